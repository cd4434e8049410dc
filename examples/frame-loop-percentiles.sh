#!/bin/sh
# examples/frame-loop-percentiles.sh — frame-time percentiles of the frame-loop
# host (examples/frame-loop --percentiles): runctl_poll(L, 0)'s p50, p99 and max
# (wall and CPU time) with 100 and 1,000 cancels in flight, against a fake API
# answering in 300 ms and one answering at once, with the default frame budget:
# at 60 Hz, then polled back to back (--fps 0) beside the same without a budget,
# with the time until all were done and its ratio to the unbudgeted run's.
# Usage: sh examples/frame-loop-percentiles.sh [BUILD_DIR]   (default: build)
BUILD=${1:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/frame-loop-percentiles.XXXXXX")
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT INT TERM
. "$(dirname "$0")/frame-loop-fake.sh"
seed_runs "$dir/seed.json" 1000

# one NAME ARGS...: one frame-loop run's line (its "frame-loop: " cut off)
one() {
    OPENAI_API_KEY=sk-bench-not-a-real-key "$BUILD/frame-loop" --percentiles --run-prefix "run_" \
        --base-url "$base" "$@" | sed "s/^frame-loop: //"
    curl -s -o /dev/null -X POST "$root/_fake/reset"   # queues every run again
}
done_ms() { sed -n 's/.*all done in \([0-9]*\) ms.*/\1/p'; }

for latency in 300 0; do
    start_fake "l$latency" "$latency" "$dir/seed.json"
    root="http://127.0.0.1:$(cat "$dir/l$latency.port")" base="$root/v1"
    for n in 100 1000; do
        echo "frame-loop, server answering in ${latency} ms, 60 Hz: $(one --requests "$n")"
        budgeted=$(one --requests "$n" --fps 0)
        unbudgeted=$(one --requests "$n" --fps 0 --budget -1)
        a=$(echo "$budgeted" | done_ms) b=$(echo "$unbudgeted" | done_ms)
        max=$(echo "$unbudgeted" | sed -n 's/.*, max \([0-9.]*\) ms over.*/\1/p')
        ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        echo "frame-loop, server answering in ${latency} ms, polled back to back: $budgeted;" \
             "without a budget: max $max ms, all done in $b ms (the budget takes ${ratio}x that time)"
    done
done
