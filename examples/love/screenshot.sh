#!/bin/sh
# examples/love/screenshot.sh — docs/img/love.png: the LÖVE example under Xvfb
# against the fake server (examples/hosts-seed.json), after it cancelled the
# second job. Needs make all luajit, xvfb-run and love.
# Usage: sh examples/love/screenshot.sh [OUT.png]   (default: docs/img/love.png)
out=${1:-docs/img/love.png}
dir=$(mktemp -d "${TMPDIR:-/tmp}/love-shot.XXXXXX")
trap 'kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
build/fakeapi --port 0 --port-file "$dir/port" --quiet --seed examples/hosts-seed.json >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
mkdir -p "$(dirname "$out")"
case $out in /*) abs=$out ;; *) abs="$(pwd)/$out" ;; esac
RUNCTL_SCREENSHOT="$abs" RUNCTL_MODULE_DIR="$(pwd)/build-luajit/module" \
  RUNCTL_THREADS=thread_support,thread_nightly OPENAI_API_KEY=sk-demo-not-a-real-key \
  OPENAI_BASE_URL="http://127.0.0.1:$(cat "$dir/port")/v1" \
  timeout 60 xvfb-run -a -s "-screen 0 1024x768x24" love examples/love 2>/dev/null
if [ -s "$out" ]; then echo "wrote $out"; else echo "screenshot.sh: no picture written to $out (is xvfb-run installed, and build-luajit built?)" >&2; exit 1; fi
