#!/bin/sh
# tools/demo.sh — the headline workflow on the bundled fake API: start it with a
# seed, run cancel-older-than in dry-run and for real, then stop the server.
RUNCTL=${1:-./runctl}
FAKEAPI=${2:-build/fakeapi}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
"$FAKEAPI" --port 0 --port-file "$dir/port" --seed tests/fakeapi/seed-demo.json --quiet &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
[ -s "$dir/port" ] || { echo "demo: the fake API server did not start" >&2; exit 1; }
export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$dir/port")/v1" OPENAI_API_KEY=sk-demo-not-a-real-key
threads=$(sed -n 's/.*"id": *"\(thread_[^"]*\)".*/\1/p' tests/fakeapi/seed-demo.json | tr '\n' ' ')
echo "== fake API on $OPENAI_BASE_URL, threads: $threads"
echo "== runctl cancel-older-than --older-than 1h --dry-run $threads"
"$RUNCTL" cancel-older-than --older-than 1h --dry-run $threads
echo
echo "== runctl cancel-older-than --older-than 1h $threads"
"$RUNCTL" cancel-older-than --older-than 1h $threads
status=$?
echo
echo "== again (already cancelled runs are not touched twice)"
"$RUNCTL" cancel-older-than --older-than 1h $threads
exit $status
