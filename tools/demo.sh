#!/bin/sh
# tools/demo.sh — the headline workflows on the bundled fake API (answering as
# api.openai.com does): what still runs and bills (batches, fine-tuning jobs,
# background responses) is looked at, cleaned up with each outcome and cost
# shown, and cleaned up again; then runs, as Azure and compatible servers have them.
RUNCTL=${1:-./runctl}
FAKEAPI=${2:-build/fakeapi}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
# Times are relative (negative = seconds ago); expires_at null = never expires.
cat >"$dir/seed.json" <<'SEED'
{"batches": [
  {"id": "batch_embed_2000", "status": "in_progress", "created_at": -30000,
   "request_counts": {"total": 2000, "completed": 142, "failed": 0}},
  {"id": "batch_eval_nightly", "status": "finalizing", "created_at": -28000,
   "request_counts": {"total": 500, "completed": 498, "failed": 2}},
  {"id": "batch_just_finished", "status": "in_progress", "created_at": -26000},
  {"id": "batch_fresh", "status": "validating", "created_at": -600},
  {"id": "batch_done", "status": "completed", "created_at": -90000}],
 "fine_tuning_jobs": [
  {"id": "ftjob-runaway", "status": "running", "created_at": -40000, "trained_tokens": 1250000}],
 "responses": [
  {"id": "resp_report_bg", "status": "in_progress", "background": true},
  {"id": "resp_chat_sync", "status": "completed"}],
 "threads": [
  {"id": "thread_support", "runs": [
    {"id": "run_stuck_1", "status": "in_progress", "created_at": -10800, "expires_at": null},
    {"id": "run_stuck_2", "status": "requires_action", "created_at": -7200, "expires_at": null},
    {"id": "run_fresh", "status": "queued", "created_at": -300, "expires_at": null},
    {"id": "run_done", "status": "completed", "created_at": -86400}]}]}
SEED
"$FAKEAPI" --port 0 --port-file "$dir/port" --seed "$dir/seed.json" --quiet >/dev/null &
pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
[ -s "$dir/port" ] || { echo "demo: the fake API server did not start" >&2; exit 1; }
base="http://127.0.0.1:$(cat "$dir/port")"
export OPENAI_BASE_URL="$base/v1" OPENAI_API_KEY=sk-demo-not-a-real-key

step() {
    echo
    echo "\$ runctl $*"
    "$RUNCTL" "$@" 2>&1
    echo "(exit $?)"
}
echo "fake API on $OPENAI_BASE_URL, answering as api.openai.com does (a finished batch's cancel: 409)."
echo "The JSON lines are the report (stdout), the rest is the summary (stderr)."
step watch --once --kind batches --kind fine-tuning
step cancel-older-than --kind batches --older-than 6h --dry-run
echo
echo "# batch_just_finished completes between the listing and its cancel: the server answers"
echo "# 409 \"Cannot cancel a batch with status 'completed'.\" (simulated with an injected answer)"
curl -s -o /dev/null -X POST "$base/_fake/faults" -H 'Content-Type: application/json' --data-binary \
  '{"path":"/batches/batch_just_finished/cancel","count":2,"status":409,"body":"{\"error\":{\"message\":\"Cannot cancel a batch with status '"'"'completed'"'"'.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"}'
step cancel-older-than --kind batches --older-than 6h --wait 20
step cancel-older-than --kind batches --older-than 6h
step cancel ftjob-runaway resp_report_bg resp_chat_sync
echo
echo "# runs: the Assistants API left api.openai.com in August 2026; Azure OpenAI and compatible servers keep it"
step cancel-older-than --older-than 1h --wait 10 thread_support
