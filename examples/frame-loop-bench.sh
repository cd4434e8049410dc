#!/bin/sh
# examples/frame-loop-bench.sh — the frame-loop benchmark: starts the fake API
# (300 ms per request, 100 queued runs), runs examples/frame-loop with 100
# cancels in flight, prints its one line "frame-loop: worst frame X ms ...".
# Usage: sh examples/frame-loop-bench.sh [BUILD_DIR]   (default: build)
BUILD=${1:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/frame-loop-bench.XXXXXX")
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT INT TERM
. "$(dirname "$0")/frame-loop-fake.sh"
seed_runs "$dir/seed.json" 100
start_fake main 300 "$dir/seed.json"
OPENAI_API_KEY=sk-bench-not-a-real-key "$BUILD/frame-loop" --worst-frame \
    --base-url "http://127.0.0.1:$(cat "$dir/main.port")/v1"
