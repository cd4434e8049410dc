#!/bin/sh
# tools/demo.sh — the headline workflows on the bundled fake API (answering as
# api.openai.com does): what still runs and bills (batches, fine-tuning jobs,
# background responses) is looked at, cleaned up with each outcome and cost
# shown, and cleaned up again; then runs, as Azure and compatible servers have
# them; then three commands to try next on `make fake` (the same seed).
RUNCTL=${1:-./runctl}
FAKEAPI=${2:-build/fakeapi}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
SEED=$(dirname "$0")/demo-seed.json        # an object of every kind (also what `make fake` serves)
"$FAKEAPI" --port 0 --port-file "$dir/port" --seed "$SEED" --quiet >/dev/null &
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
echo
echo "Try next, on a fake server of your own seeded with every kind (runs, batches, fine-tuning"
echo "jobs, responses, file batches, uploads, eval runs): start it with \`make fake\` in another"
echo "terminal (port 8080; Ctrl-C stops it), then here:"
echo "  export OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=sk-fake"
echo "  $RUNCTL list batches --status in_progress,finalizing"
echo "  $RUNCTL get batch_embed_2000 ftjob-runaway resp_report_bg"
echo "  $RUNCTL cancel-older-than --kind batches --older-than 6h --wait"
