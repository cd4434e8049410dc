#!/bin/sh
# tools/demo.sh — the headline workflow on the bundled fake API: seed two threads
# with stuck, fresh, finished and expired runs, then run cancel-older-than as a
# dry run, for real (waiting for the cancels to land), and a second time.
RUNCTL=${1:-./runctl}
FAKEAPI=${2:-build/fakeapi}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
# Times are relative (negative = seconds ago); expires_at null = never expires.
cat >"$dir/seed.json" <<'SEED'
{"threads": [
  {"id": "thread_support", "runs": [
    {"id": "run_stuck_1", "status": "in_progress", "created_at": -10800, "expires_at": null},
    {"id": "run_stuck_2", "status": "requires_action", "created_at": -7200, "expires_at": null},
    {"id": "run_fresh", "status": "queued", "created_at": -300, "expires_at": null},
    {"id": "run_done", "status": "completed", "created_at": -86400},
    {"id": "run_lapsed", "status": "in_progress", "created_at": -18000, "expires_at": -10800}]},
  {"id": "thread_batch", "runs": [
    {"id": "run_stuck_3", "status": "queued", "created_at": -93600, "expires_at": null},
    {"id": "run_gone", "status": "cancelled", "created_at": -10000},
    {"id": "run_live", "status": "in_progress", "created_at": -600, "expires_at": null}]}]}
SEED
"$FAKEAPI" --port 0 --port-file "$dir/port" --seed "$dir/seed.json" --quiet >/dev/null &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
[ -s "$dir/port" ] || { echo "demo: the fake API server did not start" >&2; exit 1; }
export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$dir/port")/v1" OPENAI_API_KEY=sk-demo-not-a-real-key

step() {
    echo
    echo "\$ runctl $*"
    "$RUNCTL" "$@" 2>&1
    echo "(exit $?)"
}
echo "fake API on $OPENAI_BASE_URL; the JSON lines are the report (stdout), the rest is the summary (stderr)"
step cancel-older-than --older-than 1h --dry-run thread_support thread_batch
step cancel-older-than --older-than 1h --wait 10 thread_support thread_batch
step cancel-older-than --older-than 1h thread_support thread_batch
