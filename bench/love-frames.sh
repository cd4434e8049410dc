#!/bin/sh
# bench/love-frames.sh — frame times inside LÖVE beside the C frame-loop host:
# 1,000 cancels in flight at 60 Hz against a fake API answering in 300 ms and
# one answering at once, each measured in the same run: examples/frame-loop
# (C, Lua 5.4: build/), the same C host linked with LuaJIT (build-luajit/),
# and bench/love (LÖVE 11, runctl.poll from love.run). One line each: the
# poll's p50, p99 and max wall time, the frames, the time until all were done.
# Usage: sh bench/love-frames.sh   (needs make all luajit, and love)
BUILD=build
dir=$(mktemp -d "${TMPDIR:-/tmp}/love-frames.XXXXXX")
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT INT TERM
. examples/frame-loop-fake.sh
n=${REQUESTS:-1000}
seed_runs "$dir/seed.json" "$n"
command -v love >/dev/null 2>&1 || { echo "love-frames: skipped (love is not installed)"; exit 0; }
[ -f build-luajit/module/runctl.so ] || { echo "love-frames: skipped (make luajit first)"; exit 0; }
for latency in 300 0; do
    start_fake "l$latency" "$latency" "$dir/seed.json"
    root="http://127.0.0.1:$(cat "$dir/l$latency.port")"
    for host in build/frame-loop build-luajit/frame-loop; do
        [ -x "$host" ] || continue
        line=$(OPENAI_API_KEY=sk-bench-not-a-real-key "$host" --percentiles --requests "$n" --base-url "$root/v1")
        echo "server ${latency} ms, $host: ${line#frame-loop: }"
        curl -s -o /dev/null -X POST "$root/_fake/reset"
    done
    line=$(env -u DISPLAY RUNCTL_MODULE_DIR="$(pwd)/build-luajit/module" RUNCTL_REQUESTS="$n" \
           OPENAI_API_KEY=sk-bench-not-a-real-key OPENAI_BASE_URL="$root/v1" love bench/love 2>/dev/null)
    echo "server ${latency} ms, LÖVE 11.4: ${line#love: }"
    curl -s -o /dev/null -X POST "$root/_fake/reset"
done
