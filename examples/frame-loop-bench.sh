#!/bin/sh
# examples/frame-loop-bench.sh — the frame-loop benchmark: starts the fake API
# (300 ms per request, 100 queued runs), runs examples/frame-loop with 100
# cancels in flight, prints its one line "frame-loop: worst frame X ms ...".
# Usage: sh examples/frame-loop-bench.sh [BUILD_DIR]   (default: build)
BUILD=${1:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/frame-loop-bench.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
{
    printf '{"threads":[{"id":"thread_frame","runs":['
    i=1
    while [ $i -le 100 ]; do
        [ $i -gt 1 ] && printf ','
        printf '{"id":"run_%d","status":"queued","created_at":-60}' $i
        i=$((i + 1))
    done
    printf ']}]}\n'
} > "$dir/seed.json"
"$BUILD/fakeapi" --port 0 --port-file "$dir/port" --quiet --no-record --latency-ms 300 \
    --seed "$dir/seed.json" >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
[ -s "$dir/port" ] || { echo "frame-loop-bench: the fake API server did not start" >&2; exit 1; }
OPENAI_API_KEY=sk-bench-not-a-real-key "$BUILD/frame-loop" --worst-frame \
    --base-url "http://127.0.0.1:$(cat "$dir/port")/v1"
