#!/bin/sh
# examples/frame-loop-percentiles.sh — frame-time percentiles of the frame-loop
# host (examples/frame-loop --percentiles): runctl_poll(L, 0)'s p50, p99 and max
# with 100 and 1,000 cancels in flight, against a fake API answering in 300 ms
# and one answering at once, with the default frame budget. Four lines.
# Usage: sh examples/frame-loop-percentiles.sh [BUILD_DIR]   (default: build)
BUILD=${1:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/frame-loop-percentiles.XXXXXX")
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT INT TERM
{
    printf '{"threads":[{"id":"thread_frame","runs":['
    i=1
    while [ $i -le 1000 ]; do
        [ $i -gt 1 ] && printf ','
        printf '{"id":"run_%d","status":"queued","created_at":-60}' $i
        i=$((i + 1))
    done
    printf ']}]}\n'
} > "$dir/seed.json"

# start_fake NAME LATENCY_MS: a fake API on a free port; its port goes to $dir/NAME.port
start_fake() {
    "$BUILD/fakeapi" --port 0 --port-file "$dir/$1.port" --quiet --no-record --latency-ms "$2" \
        --seed "$dir/seed.json" >/dev/null 2>&1 &
    pids="$pids $!"
    i=0
    while [ ! -s "$dir/$1.port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
    [ -s "$dir/$1.port" ] || { echo "frame-loop-percentiles: the fake API server did not start" >&2; exit 1; }
}

for latency in 300 0; do
    start_fake "l$latency" "$latency"
    base="http://127.0.0.1:$(cat "$dir/l$latency.port")/v1"
    for n in 100 1000; do     # after each, /_fake/reset queues every run again
        OPENAI_API_KEY=sk-bench-not-a-real-key "$BUILD/frame-loop" --percentiles --requests "$n" \
            --run-prefix "run_" --base-url "$base" | sed "s/^frame-loop: /frame-loop, server answering in ${latency} ms: /"
        curl -s -o /dev/null -X POST "http://127.0.0.1:$(cat "$dir/l$latency.port")/_fake/reset"
    done
done
