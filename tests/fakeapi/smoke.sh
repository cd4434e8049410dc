#!/usr/bin/env bash
# smoke.sh: quick curl/jq check of every fakeapi route, fault and cancel style; prints TAP.
# Usage: sh tests/fakeapi/smoke.sh   (runs build/fakeapi; FAKEAPI=/path/to/binary for another)
[ -z "${BASH_VERSION:-}" ] && exec bash "$0" "$@"   # arrays below need bash
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${FAKEAPI:-$HERE/../../build/fakeapi}
SEED=$HERE/seed-demo.json
KEY=sk-smoke-0123456789
BETA='OpenAI-Beta: assistants=v2'

for tool in curl jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "1..0 # SKIP $tool not installed"
        exit 0
    fi
done
if [ ! -x "$BIN" ]; then
    echo "Bail out! $BIN not built"
    exit 1
fi

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

N=0
FAILED=0
check() { # check DESCRIPTION COMMAND...
    local desc=$1
    shift
    N=$((N + 1))
    if "$@"; then
        echo "ok $N - $desc"
    else
        echo "not ok $N - $desc"
        FAILED=$((FAILED + 1))
        echo "#   status=$STATUS body=$(head -c 400 "$TMP/body" 2>/dev/null)"
    fi
}

# start_server NAME ARGS... : sets PORT_<NAME>; waits for the port file
start_server() {
    local name=$1
    shift
    "$BIN" --port 0 --port-file "$TMP/$name.port" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    local pid=$!
    PIDS+=("$pid")
    eval "PID_$name=$pid"
    for _ in $(seq 100); do
        [ -s "$TMP/$name.port" ] && break
        sleep 0.05
    done
    eval "PORT_$name=$(cat "$TMP/$name.port" 2>/dev/null || echo 0)"
}

# stop_server NAME : SIGTERM, expects exit status 0
stop_server() {
    local pid
    eval "pid=\$PID_$1"
    kill -TERM "$pid"
    wait "$pid"
    local rc=$?
    PIDS=("${PIDS[@]/$pid/}")
    if grep -qE 'runtime error|Sanitizer|AddressSanitizer' "$TMP/$1.err"; then
        sed 's/^/#   /' "$TMP/$1.err" | head -40
        return 1
    fi
    return $rc
}

STATUS=0
CURLRC=0
# req METHOD PATH [curl args...] : BODY in $TMP/body, headers in $TMP/hdr
req() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s --path-as-is -X "$method" -o "$TMP/body" -D "$TMP/hdr" \
        -w '%{http_code}' --max-time 20 "$@" "$BASE$path")
    CURLRC=$?
}
# api METHOD PATH [curl args...] : authenticated API request
api() {
    local method=$1 path=$2
    shift 2
    req "$method" "$path" -H "Authorization: Bearer $KEY" -H "$BETA" "$@"
}
jqt() { jq -e "$@" "$TMP/body" >/dev/null 2>&1; }
body_is() { [ "$(cat "$TMP/body")" = "$1" ]; }   # the exact bytes of the answer
# refused STATUS MESSAGE: the answer is STATUS with exactly the API's error body
refused() { [ "$STATUS" = "$1" ] && [ -n "$(hdr x-request-id)" ] &&
    body_is "{\"error\":{\"message\":\"$2\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"; }
is() { [ "$1" = "$2" ]; }
hdr() { tr -d '\r' <"$TMP/hdr" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" \
    'BEGIN{FS=": "} tolower($1)==n {sub(/^[^:]*: /, ""); print; exit}'; }
ctrl_post() { curl -s --max-time 10 -X POST -H 'content-type: application/json' \
    --data-binary "$2" "$BASE$1" >/dev/null; }



start_server main --seed "$SEED" --api-key "$KEY" --cancel-delay-ms 2000
BASE="http://127.0.0.1:$PORT_main"
check "server writes its port file and prints the listening line" \
    grep -q "^fakeapi listening on http://127.0.0.1:$PORT_main\$" "$TMP/main.out"

T=thread_demo_support
R=run_demo_support_01

# ---- control basics ----
req GET /_fake/stats
check "stats: 3 threads, 24 runs" jqt '.threads == 3 and .runs == 24 and .requests == 0'

# ---- auth ----
req GET /v1/threads/$T/runs/$R -H "$BETA"
check "missing key -> 401" is "$STATUS" 401
check "missing key message and shape" jqt '.error.type == "invalid_request_error" and (.error.message | startswith("You didn'"'"'t provide an API key")) and .error.code == null and .error.param == null'
req GET /v1/threads/$T/runs/$R -H "$BETA" -H "Authorization: Bearer"
check "empty bearer -> 401" is "$STATUS" 401
req GET /v1/threads/$T/runs/$R -H "$BETA" -H "Authorization: Bearer sk-wrong"
check "wrong key -> 401 invalid_api_key without echoing the key" \
    jqt '.error.code == "invalid_api_key" and .error.message == "Incorrect API key provided."'
req GET /openai/threads/$T/runs/$R -H "$BETA" -H "api-key: $KEY"
check "api-key header accepted on /openai prefix" is "$STATUS" 200

# ---- beta header ----
req GET /v1/threads/$T/runs/$R -H "Authorization: Bearer $KEY"
check "missing OpenAI-Beta -> 400 invalid_beta" jqt '.error.code == "invalid_beta"'
req GET /v1/threads/$T/runs/$R -H "Authorization: Bearer $KEY" -H 'OpenAI-Beta: assistants=v1'
check "assistants=v1 -> 400 deprecated" jqt '.error.code == "invalid_beta" and (.error.message | test("deprecated"))'
req GET /v1/threads/$T/runs/$R -H "Authorization: Bearer $KEY" -H 'openai-beta: foo=1, assistants=v2'
check "lower-case header name with a list value accepted" is "$STATUS" 200

# ---- retrieve + prefixes + headers ----
api GET /v1/threads/$T/runs/$R
check "retrieve /v1 -> 200 run object" jqt '.id == "run_demo_support_01" and .object == "thread.run" and .thread_id == "thread_demo_support" and .status == "in_progress"'
check "run object has every field" jqt 'has("required_action") and has("last_error") and has("expires_at") and has("started_at") and has("cancelled_at") and has("failed_at") and has("completed_at") and has("incomplete_details") and has("usage") and .truncation_strategy.type == "auto" and .parallel_tool_calls == true and .tools == [] and .temperature == 1.0'
check "relative created_at resolved (about two hours ago)" jqt "(now - .created_at) > 7000 and (now - .created_at) < 7400"
RID1=$(hdr x-request-id)
check "x-request-id is req_ + 32 hex" bash -c "[[ '$RID1' =~ ^req_[0-9a-f]{32}\$ ]]"
check "content-type json and openai-processing-ms present" \
    bash -c "[ '$(hdr content-type)' = application/json ] && [[ '$(hdr openai-processing-ms)' =~ ^[0-9]+\$ ]]"
api GET /openai/v1/threads/$T/runs/$R
check "retrieve /openai/v1 -> 200" jqt '.id == "run_demo_support_01"'
check "request ids are unique" bash -c "[ '$(hdr x-request-id)' != '$RID1' ]"
api GET /openai/threads/$T/runs/$R
check "retrieve /openai -> 200" jqt '.id == "run_demo_support_01"'
api GET /threads/$T/runs/$R
check "no prefix -> 404 Invalid URL" jqt '.error.message == "Invalid URL (GET /threads/thread_demo_support/runs/run_demo_support_01)"'
api GET /v1/nope
check "unknown route -> 404 Invalid URL" bash -c "[ $STATUS = 404 ]" 
api DELETE /v1/threads/$T/runs/$R
check "wrong method -> 404 Invalid URL" jqt '.error.message == "Invalid URL (DELETE /v1/threads/thread_demo_support/runs/run_demo_support_01)"'
api GET /v1/threads/nope/runs/$R
check "unknown thread -> 404" jqt ".error.message == \"No thread found with id 'nope'.\""
api GET /v1/threads/$T/runs/nope
check "unknown run -> 404" jqt ".error.message == \"No run found with id 'nope'.\""
api GET '/v1/threads/q%22%01%FF%5C/runs'
check "odd bytes in ids are escaped in the message" \
    grep -qF '"No thread found with id '"'"'q\"\u0001\ufffd\\'"'"'."' "$TMP/body"
api GET '/v1/threads/a%00b/runs'
check "decoded NUL in a segment -> 404 Invalid URL" jqt '.error.message | startswith("Invalid URL")'

# ---- list ----
api GET /v1/threads/$T/runs
check "list default: 8 runs, desc, no more" jqt '.object == "list" and (.data | length) == 8 and .has_more == false and .first_id == "run_demo_support_03" and .last_id == "run_demo_support_05"'
api GET "/v1/threads/$T/runs?limit=3&order=asc"
check "list limit=3 asc" jqt '[.data[].id] == ["run_demo_support_05","run_demo_support_06","run_demo_support_07"] and .has_more == true'
api GET "/v1/threads/$T/runs?limit=3&order=asc&after=run_demo_support_07"
check "list after cursor" jqt '[.data[].id] == ["run_demo_support_01","run_demo_support_02","run_demo_support_04"] and .has_more == true'
api GET "/v1/threads/$T/runs?limit=2&order=asc&before=run_demo_support_04"
check "list before cursor takes the nearest items" jqt '[.data[].id] == ["run_demo_support_01","run_demo_support_02"] and .has_more == true'
api GET "/v1/threads/$T/runs?limit=2&after=run_demo_support_08"
check "list desc after cursor" jqt '[.data[].id] == ["run_demo_support_04","run_demo_support_02"]'
api GET "/v1/threads/$T/runs?after=run_nope"
check "unknown cursor -> empty page" jqt '.data == [] and .first_id == null and .last_id == null and .has_more == false'
for bad in 0 101 abc -1 ""; do
    api GET "/v1/threads/$T/runs?limit=$bad"
    check "limit=$bad -> 400 param limit" jqt '.error.param == "limit"'
done
api GET "/v1/threads/$T/runs?order=sideways"
check "bad order -> 400 param order" jqt '.error.param == "order"'
api GET "/v1/threads/nope/runs?limit=0"
check "unknown thread beats bad params -> 404" is "$STATUS" 404

# ---- cancel ----
api POST /v1/threads/$T/runs/$R/cancel
check "cancel in_progress -> 200 cancelling" jqt '.status == "cancelling" and .id == "run_demo_support_01"'
api POST /v1/threads/$T/runs/$R/cancel
check "cancel again -> 400 status cancelling" jqt ".error.message == \"Cannot cancel run with status 'cancelling'.\""
# Polls (up to 20 s) instead of sleeping for the delay: a loaded machine may take longer.
for _ in $(seq 200); do
    api GET /v1/threads/$T/runs/$R
    jqt '.status == "cancelling"' || break
    sleep 0.1
done
check "after the delay it reads cancelled" jqt '.status == "cancelled" and (.cancelled_at | type) == "number" and .expires_at == null'
api POST /v1/threads/$T/runs/run_demo_support_05/cancel
check "cancel completed -> 400" jqt ".error.message == \"Cannot cancel run with status 'completed'.\" and .error.type == \"invalid_request_error\""
api POST /openai/v1/threads/thread_demo_agents/runs/run_demo_agents_01/cancel
check "cancel requires_action -> cancelling, required_action cleared" jqt '.status == "cancelling" and .required_action == null'
api GET /v1/threads/$T/runs/$R/cancel
check "GET on cancel route -> 404" is "$STATUS" 404
req GET "/_fake/runs?thread_id=$T"
check "/_fake/runs shows raw state" jqt 'length == 8 and ([.[] | select(.status == "cancelled")] | length) == 2'
req GET /_fake/stats
check "stats count cancels" jqt '.cancels == 2 and .faults_pending == 0'

# ---- encoded ids ----
ctrl_post /_fake/seed '{"threads":[{"id":"a/b","runs":[{"id":"r?x","status":"queued","created_at":-10,"metadata":{"k":"v"},"custom":[1,2]}]},{"id":"t 1","runs":[]}]}'
api GET '/v1/threads/a%2Fb/runs'
check "%2F inside a thread id" jqt '(.data | length) == 1 and .data[0].thread_id == "a/b"'
api GET '/v1/threads/a%2Fb/runs/r%3Fx'
check "%3F is part of the run id, unknown fields kept" jqt '.id == "r?x" and .metadata == {"k":"v"} and .custom == [1,2] and .expires_at != null'
api GET '/v1/threads/a/b/runs'
check "unencoded slash does not match" is "$STATUS" 404
api GET '/v1/threads/t%201/runs?limit=5'
check "%20 in id, empty thread lists nothing" jqt '.data == [] and .has_more == false'
req POST /_fake/seed --data-binary '{"threads":[{"id":"x","runs":[{"status":"bogus"}]}]}'
check "bad seed -> 400, state kept" bash -c "[ $STATUS = 400 ] && curl -s '$BASE/_fake/stats' | jq -e '.runs == 1' >/dev/null"
req GET '/_fake/runs?thread_id=a%2Fb'
check "/_fake/runs decodes thread_id" jqt 'length == 1 and .[0].id == "r?x"'


# ---- recording ----
req DELETE /_fake/requests
check "clear recorded requests" jqt '.ok == true'
api POST '/v1/threads/a%2Fb/runs/r%3Fx/cancel?foo=a%20b' -H 'X-Dup: one' -H 'x-dup: two' \
    --data-binary '{"reason":"smoke"}'
RID=$(hdr x-request-id)
req GET /_fake/requests
check "recorded: raw path, raw query, body, request id" jqt ".[0].method == \"POST\" and .[0].path == \"/v1/threads/a%2Fb/runs/r%3Fx/cancel\" and .[0].query == \"foo=a%20b\" and .[0].body == \"{\\\"reason\\\":\\\"smoke\\\"}\" and .[0].request_id == \"$RID\""
check "recorded headers are lower-cased and joined" jqt '.[0].headers["x-dup"] == "one, two" and .[0].headers["openai-beta"] == "assistants=v2" and (.[0].headers | has("authorization"))'
check "control requests are not recorded" jqt 'length == 1'

# ---- faults ----
ctrl_post /_fake/reset ''
FLT='{"status":503,"headers":{"retry-after":"1","x-should-retry":"true"}}'
ctrl_post /_fake/faults "$FLT"
api GET /v1/threads/$T/runs/$R
check "fault 503 with headers and default body" bash -c "[ $STATUS = 503 ] && [ '$(hdr retry-after)' = 1 ] && [ '$(hdr x-should-retry)' = true ] && jq -e '.error.type == \"server_error\"' '$TMP/body' >/dev/null"
api GET /v1/threads/$T/runs/$R
check "fault used once, then normal answer" is "$STATUS" 200
ctrl_post /_fake/faults '{"body":"{not json"}'
api GET /v1/threads/$T/runs/$R
check "body-only fault -> 200 malformed JSON" bash -c "[ $STATUS = 200 ] && [ \"\$(cat '$TMP/body')\" = '{not json' ]"
ctrl_post /_fake/faults '{"delay_ms":400}'
START=$(date +%s%N)
api GET /v1/threads/$T/runs/$R
END=$(date +%s%N)
check "delay fault sleeps then answers" bash -c "[ $STATUS = 200 ] && [ $(((END - START) / 1000000)) -ge 400 ]"
ctrl_post /_fake/faults '{"close":"before"}'
api POST /v1/threads/$T/runs/$R/cancel
check "close before -> empty reply (curl 52)" is "$CURLRC" 52
api GET /v1/threads/$T/runs/$R
check "close before did not cancel" jqt '.status == "in_progress"'
ctrl_post /_fake/faults '{"close":"middle"}'
api GET /v1/threads/$T/runs/$R
check "close middle -> partial transfer (curl 18)" is "$CURLRC" 18
ctrl_post /_fake/faults '{"truncate":true}'
api POST /v1/threads/$T/runs/$R/cancel
check "truncate -> status 200, half a run JSON" bash -c "[ $CURLRC = 18 ] && [ $STATUS = 200 ] && head -c 7 '$TMP/body' | grep -q '^{\"id\":\"' && ! jq -e . '$TMP/body' >/dev/null 2>&1"
api GET /v1/threads/$T/runs/$R
check "truncated cancel still took effect" jqt '.status == "cancelling" or .status == "cancelled"'
ctrl_post /_fake/faults '{"html":true,"status":502}'
api GET /v1/threads/$T/runs/$R
check "html 502 page" bash -c "[ $STATUS = 502 ] && [ '$(hdr content-type)' = text/html ] && grep -q '<title>502 Bad Gateway</title>' '$TMP/body'"
ctrl_post /_fake/faults '{"large_bytes":3000000}'
api GET /v1/threads/$T/runs/$R
check "large body streamed with content-length" bash -c "[ $STATUS = 200 ] && [ \$(stat -c %s '$TMP/body') = 3000000 ] && [ '$(hdr content-length)' = 3000000 ] && jq -e '.pad | length == 2999990' '$TMP/body' >/dev/null"
ctrl_post /_fake/faults '{"large_bytes":100000,"chunked":true}'
api GET /v1/threads/$T/runs/$R
check "chunked large body" bash -c "[ $STATUS = 200 ] && [ \$(stat -c %s '$TMP/body') = 100000 ] && [ '$(hdr transfer-encoding)' = chunked ]"
ctrl_post /_fake/faults '{"headers":{"openai-poll-after-ms":"250"}}'
api GET /v1/threads/$T/runs/$R
check "headers-only fault adds headers to the normal answer" bash -c "[ $STATUS = 200 ] && [ '$(hdr openai-poll-after-ms)' = 250 ] && jq -e '.id' '$TMP/body' >/dev/null"
ctrl_post /_fake/faults '[{"method":"POST","path":"/cancel","status":500,"count":2},{"status":429}]'
req GET /_fake/faults
check "faults listed" jqt 'length == 2 and .[0].count == 2'
api GET /v1/threads/$T/runs/$R
check "non-matching head fault leaves request alone" is "$STATUS" 200
api POST /v1/threads/$T/runs/run_demo_support_02/cancel
S1=$STATUS
api POST /v1/threads/$T/runs/run_demo_support_02/cancel
check "count=2 applies twice" bash -c "[ $S1 = 500 ] && [ $STATUS = 500 ]"
api GET /v1/threads/$T/runs/$R
check "next fault reaches the head" is "$STATUS" 429
req GET /_fake/stats
check "queue drained" jqt '.faults_pending == 0'
ctrl_post /_fake/faults '{"status":500,"count":5}'
req DELETE /_fake/faults
check "DELETE /_fake/faults clears" bash -c "[ $STATUS = 200 ] && curl -s '$BASE/_fake/faults' | jq -e 'length == 0' >/dev/null"
req POST /_fake/faults --data-binary '{"stauts":500}'
check "invalid fault -> 400" jqt '.error.message | test("unknown field")'
req POST /_fake/faults --data-binary '{nope'
check "invalid JSON -> 400" is "$STATUS" 400
req GET /_fake/requests
check "faulted requests are recorded too" jqt 'length >= 15'

# ---- misc ----
req GET /_fake/nope
check "unknown control route -> 404" is "$STATUS" 404
curl -s -v -H "Authorization: Bearer $KEY" -H "$BETA" "$BASE/v1/threads/$T/runs/$R" \
    "$BASE/v1/threads/$T/runs/$R" -o /dev/null -o /dev/null 2>"$TMP/verbose"
check "keep-alive connection reused" grep -q "Re-using existing connection" "$TMP/verbose"
ctrl_post /_fake/reset ''
req GET "/_fake/runs?thread_id=$T"
check "reset restores the start-up seed" jqt '.[] | select(.id == "run_demo_support_01") | .status == "in_progress"'
req GET /_fake/stats
check "reset clears counters, log and faults" jqt '.requests == 0 and .recorded == 0 and .cancels == 0 and .runs == 24'
check "SIGTERM -> clean exit 0, no sanitizer reports" stop_server main

# ---- a second instance: --generate, --latency-ms, --no-record, --threads ----
start_server gen --generate 2x5:9 --latency-ms 200 --no-record --threads 2
BASE="http://127.0.0.1:$PORT_gen"
req GET /_fake/runs
GT=$(jq -r '.[0].thread_id' "$TMP/body")
check "generated: 10 runs, ids shaped like the real ones" jqt 'length == 10 and all(.[]; (.id | test("^run_[A-Za-z0-9]{24}$")) and (.thread_id | test("^thread_[A-Za-z0-9]{24}$")))'
START=$(date +%s%N)
req GET "/v1/threads/$GT/runs" -H "Authorization: Bearer anything" -H "$BETA"
END=$(date +%s%N)
check "latency applies to API requests" bash -c "[ $STATUS = 200 ] && [ $(((END - START) / 1000000)) -ge 200 ]"
req GET /_fake/requests
check "--no-record keeps the log empty" jqt 'length == 0'
check "SIGTERM -> clean exit 0, no sanitizer reports (pool mode)" stop_server gen

# ---- a third instance: batches, responses, fine-tuning jobs, ... (jobs.c) ----
cat >"$TMP/jobs.json" <<'JSON'
{"batches": [{"id": "batch_1", "status": "in_progress", "created_at": -3600},
             {"id": "batch_2", "status": "completed"}],
 "responses": [{"id": "resp_bg", "status": "queued", "background": true},
               {"id": "resp_fg", "status": "in_progress"}],
 "fine_tuning_jobs": [{"id": "ftjob-1", "status": "running"}],
 "vector_stores": [{"id": "vs_1", "file_batches": [{"id": "vsfb_1"}]}],
 "uploads": [{"id": "upload_1"}]}
JSON
start_server jobs --seed "$TMP/jobs.json" --cancel-delay-ms 100 --path-prefix /p/v1 --threads 2 \
    --cancel-style legacy
BASE="http://127.0.0.1:$PORT_jobs"
api GET "/v1/batches?limit=1"
check "batches list: newest first, has_more, last_id" jqt '.data[0].id == "batch_2" and .has_more and .last_id == "batch_2"'
api POST /v1/batches/batch_1/cancel
check "batch cancel -> cancelling" jqt '.status == "cancelling" and .cancelling_at != null'
sleep 0.2
api GET /openai/batches/batch_1
check "then cancelled (under /openai too)" jqt '.status == "cancelled" and .cancelled_at != null'
api POST /v1/responses/resp_fg/cancel
check "non-background response cancel -> 400" is "$STATUS" 400
api POST /v1/responses/resp_bg/cancel
check "background response cancel -> cancelled" jqt '.status == "cancelled" and .background'
api POST /p/v1/fine_tuning/jobs/ftjob-1/cancel
check "fine-tuning job cancel under --path-prefix" jqt '.status == "cancelled"'
api POST /v1/vector_stores/vs_1/file_batches/vsfb_1/cancel
check "file batch cancel" jqt '.status == "cancelled" and .vector_store_id == "vs_1"'
api POST /v1/uploads/upload_1/cancel
check "upload cancel has x-request-id" bash -c "[ $STATUS = 200 ] && [ -n \"$(hdr x-request-id)\" ]"
req GET /_fake/stats
check "stats count every kind" jqt '.batches == 2 and .responses == 2 and .fine_tuning_jobs == 1 and .uploads == 1 and .cancels == 5'
req GET /_fake/config
check "--cancel-style legacy shows in /_fake/config" jqt '.cancel_style == "legacy" and .cancel_delay_ms == 100'
api POST /v1/batches/batch_2/cancel
check "legacy: a completed batch -> 400 without the article" refused 400 "Cannot cancel batch with status 'completed'."
check "SIGTERM -> clean exit 0, no sanitizer reports (jobs)" stop_server jobs


# ---- a fourth instance: cancel styles, delays, flip-backs, costs, attempts (issue 13) ----
cat >"$TMP/styles.json" <<'JSON'
{"threads": [{"id": "thread_s", "runs": [{"id": "run_done", "status": "completed"}]}],
 "batches": [{"id": "batch_done", "status": "completed"},
             {"id": "batch_cancelling", "status": "cancelling"},
             {"id": "batch_slow", "status": "in_progress", "cancel_delay_ms": 600000,
              "request_counts": {"total": 10, "completed": 3, "failed": 1}},
             {"id": "batch_quick", "status": "in_progress", "cancel_delay_ms": 0}],
 "responses": [{"id": "resp_done", "status": "completed", "background": true},
               {"id": "resp_cancelled", "status": "cancelled", "background": true},
               {"id": "resp_sync", "status": "completed"},
               {"id": "resp_stays", "status": "in_progress", "background": true, "flip_back_ms": 600000},
               {"id": "resp_flip", "status": "in_progress", "background": true, "flip_back_ms": 1},
               {"id": "resp_lost", "status": "in_progress", "background": true}],
 "fine_tuning_jobs": [{"id": "ftjob-done", "status": "succeeded"},
                      {"id": "ftjob-run", "status": "running", "trained_tokens": 777},
                      {"id": "ftjob-pause", "status": "running"}],
 "evals": [{"id": "eval_s", "runs": [{"id": "evalrun_new", "status": "in_progress", "created_at": -60},
                                      {"id": "evalrun_old", "status": "queued", "created_at": -600},
                                      {"id": "evalrun_done", "status": "completed", "created_at": -300}]}]}
JSON
"$BIN" --cancel-style 418 >/dev/null 2>"$TMP/badstyle.err"
BADRC=$?
check "--cancel-style 418 -> exit 2 naming the option and the choices" \
    bash -c "[ $BADRC = 2 ] && grep -q 'bad option or value: --cancel-style 418' '$TMP/badstyle.err' && grep -qF -- '--cancel-style legacy|live|400|200|409' '$TMP/badstyle.err'"
# the default is one line in refusal.h: #define CANCEL_STYLE_DEFAULT CANCEL_<STYLE>
DEFAULT_STYLE=$(sed -n 's/^#define CANCEL_STYLE_DEFAULT CANCEL_\([A-Z0-9]*\)$/\1/p' "$HERE/refusal.h" |
    tr 'A-Z' 'a-z')
start_server plain --generate 0x0
BASE="http://127.0.0.1:$PORT_plain"
req GET /_fake/config
check "without --cancel-style: the default of refusal.h ($DEFAULT_STYLE)" \
    jqt ".cancel_style == \"$DEFAULT_STYLE\" and \"$DEFAULT_STYLE\" != \"\""
check "SIGTERM -> clean exit 0 (plain)" stop_server plain
start_server styles --seed "$TMP/styles.json" --cancel-style live
BASE="http://127.0.0.1:$PORT_styles"
req GET /_fake/config
check "--cancel-style live shows in /_fake/config" jqt '.cancel_style == "live" and .cancel_delay_ms == 100'
api POST /v1/batches/batch_done/cancel
check "live: a completed batch -> 409, the exact live body" refused 409 "Cannot cancel a batch with status 'completed'."
api POST /v1/batches/batch_cancelling/cancel
check "live: a cancelling batch -> 409" refused 409 "Cannot cancel a batch with status 'cancelling'."
api POST /v1/threads/thread_s/runs/run_done/cancel
check "live: a completed run -> 400" refused 400 "Cannot cancel run with status 'completed'."
api POST /v1/responses/resp_sync/cancel
check "live: a non-background response -> 400" refused 400 "Cannot cancel a synchronous response."
api POST /v1/responses/resp_done/cancel
check "live: a completed background response -> 400" refused 400 "Cannot cancel a response with status 'completed'."
api POST /v1/responses/resp_cancelled/cancel
check "live: a cancelled response -> 200 as it is" jqt '.id == "resp_cancelled" and .status == "cancelled"'
api POST /v1/fine_tuning/jobs/ftjob-done/cancel
check "live: a succeeded fine-tuning job -> 400" refused 400 "Cannot cancel a fine-tuning job with status 'succeeded'."

req POST /_fake/config --data-binary '{"cancel_style":"400"}'
check "POST /_fake/config switches the style" body_is '{"cancel_style":"400","cancel_delay_ms":100}'
api POST /v1/batches/batch_done/cancel
check "400: a completed batch -> 400, the live text" refused 400 "Cannot cancel a batch with status 'completed'."
api POST /v1/responses/resp_cancelled/cancel
check "400: a cancelled response -> 400" refused 400 "Cannot cancel a response with status 'cancelled'."
api POST /v1/threads/thread_s/runs/run_done/cancel
check "400: a completed run -> 400" refused 400 "Cannot cancel run with status 'completed'."

ctrl_post /_fake/config '{"cancel_style":"200"}'
api POST /v1/batches/batch_done/cancel
check "200: a completed batch -> 200, unchanged" jqt '.id == "batch_done" and .status == "completed" and .cancelling_at == null'
api POST /v1/batches/batch_cancelling/cancel
check "200: a cancelling batch -> 200, still cancelling" jqt '.status == "cancelling"'
api POST /v1/threads/thread_s/runs/run_done/cancel
check "200: a completed run -> 200, unchanged" jqt '.id == "run_done" and .status == "completed"'
api POST /v1/responses/resp_done/cancel
check "200: a completed response -> 200, unchanged" jqt '.id == "resp_done" and .status == "completed"'
api POST /v1/responses/resp_sync/cancel
check "200: a non-background response is still refused" refused 400 "Cannot cancel a synchronous response."
req GET /_fake/stats
check "answers 'as it is' cancel nothing" jqt '.cancels == 0'

ctrl_post /_fake/config '{"cancel_style":"409"}'
api POST /v1/responses/resp_done/cancel
check "409: a completed background response -> 409" refused 409 "Cannot cancel a response with status 'completed'."
api POST /v1/responses/resp_cancelled/cancel
check "409: a cancelled background response -> 409" refused 409 "Cannot cancel a response with status 'cancelled'."
api POST /v1/batches/batch_done/cancel
check "409: a completed batch -> 409" refused 409 "Cannot cancel a batch with status 'completed'."
api POST /v1/threads/thread_s/runs/run_done/cancel
check "409: a completed run -> 400" refused 400 "Cannot cancel run with status 'completed'."
req POST /_fake/config --data-binary '{"cancel_style":"418"}'
check "an unknown style -> 400 naming the choices" \
    jqt '.error.message == "cancel_style must be one of \"legacy\", \"live\", \"400\", \"200\", \"409\""'
req POST /_fake/config --data-binary '{"cancel_delay":5}'
check "an unknown config field -> 400" jqt '.error.message == "unknown config field '"'"'cancel_delay'"'"' (cancel_style, cancel_delay_ms, rate_limit, spend)"'

# the rate-limit mode: a bucket of 2, refilled at 1/s; the third request at once is a 429
req POST /_fake/config --data-binary '{"rate_limit":{"rate":1,"burst":2,"hint":"seconds"}}'
check "rate_limit config -> 200" is "$STATUS" 200
api GET /v1/batches/batch_slow
check "under the bucket: 200 with x-ratelimit headers (limit 2, remaining 1)" \
    sh -c '[ "$1" = 200 ] && [ "$2" = 2 ] && [ "$3" = 1 ] && [ -n "$4" ]' _ "$STATUS" \
    "$(hdr x-ratelimit-limit-requests)" "$(hdr x-ratelimit-remaining-requests)" "$(hdr x-ratelimit-reset-requests)"
api GET /v1/batches/batch_slow
api GET /v1/batches/batch_slow
check "over it: 429 rate_limit_exceeded with retry-after: 1" \
    sh -c '[ "$1" = 429 ] && [ "$2" = 1 ]' _ "$STATUS" "$(hdr retry-after)"
check "the 429's body is the API's error" jqt '.error.code == "rate_limit_exceeded"'
req GET /_fake/ratelimit
check "GET /_fake/ratelimit counts 2 admitted, 1 limited" jqt '.admitted == 2 and .limited == 1 and (.per_second | length) >= 1'
req POST /_fake/config --data-binary '{"rate_limit":{"insufficient_quota":true}}'
api GET /v1/batches/batch_slow
check "insufficient_quota: every request 429 insufficient_quota" \
    sh -c '[ "$1" = 429 ] && jq -e ".error.code == \"insufficient_quota\"" "$2" >/dev/null' _ "$STATUS" "$TMP/body"
req POST /_fake/config --data-binary '{"rate_limit":{"hint":"weekly"}}'
check "a bad rate_limit field -> 400 naming the choices" jqt '.error.message | test("hint one of ms, seconds, date, reset, none")'
req POST /_fake/config --data-binary '{"rate_limit":{"rate":0,"insufficient_quota":false}}'
check "rate 0 turns the mode off" is "$STATUS" 200

api POST /v1/batches/batch_slow/cancel
check "a cancelled batch keeps its seeded request_counts, no output file yet" \
    jqt '.status == "cancelling" and .request_counts == {"total":10,"completed":3,"failed":1} and .output_file_id == null'
api GET /v1/batches/batch_slow
check "seed cancel_delay_ms 600000: still cancelling" jqt '.status == "cancelling" and .cancelled_at == null'
api POST /v1/batches/batch_quick/cancel
api GET /v1/batches/batch_quick
check "seed cancel_delay_ms 0: cancelled, default counts, an output file" \
    jqt '.status == "cancelled" and .request_counts == {"total":100,"completed":40,"failed":2} and .output_file_id == "file-out-batch_quick"'
api GET /v1/batches/batch_done
check "a completed batch has its output file" jqt '.output_file_id == "file-out-batch_done" and .request_counts.completed == 97'
api POST /v1/responses/resp_stays/cancel
api GET /v1/responses/resp_stays
check "flip_back_ms 600000: reads cancelled" jqt '.status == "cancelled" and .usage == null'
api POST /v1/responses/resp_flip/cancel
check "flip_back_ms 1: the cancel answers cancelled" jqt '.status == "cancelled"'
sleep 0.01
api GET /v1/responses/resp_flip
check "flip_back_ms 1: later reads completed, usage null" jqt '.status == "completed" and .usage == null'
api GET /v1/responses/resp_done
check "a completed response has its usage" jqt '.usage.input_tokens == 1200 and .usage.output_tokens == 300 and .usage.total_tokens == 1500'
api GET /v1/fine_tuning/jobs/ftjob-run
check "a running job: trained_tokens null" jqt '.status == "running" and .trained_tokens == null'
api POST /v1/fine_tuning/jobs/ftjob-run/cancel
check "cancelled: trained_tokens as seeded" jqt '.status == "cancelled" and .trained_tokens == 777'
api GET /v1/fine_tuning/jobs/ftjob-done
check "a succeeded job: default trained_tokens" jqt '.trained_tokens == 48000'

req DELETE /_fake/requests
ctrl_post /_fake/faults '{"path":"/responses/resp_lost/cancel","close":"after"}'
api POST /v1/responses/resp_lost/cancel
check "close after: the answer is lost (curl 52)" is "$CURLRC" 52
api GET /v1/responses/resp_lost
check "close after: the cancel landed" jqt '.status == "cancelled"'
api POST /v1/responses/resp_lost/cancel
check "the retry hears 409 cancelled" refused 409 "Cannot cancel a response with status 'cancelled'."
req GET '/_fake/requests?method=POST&path=/responses/resp_lost/cancel'
check "requests?method=&path=: the two attempts on the wire" \
    jqt 'length == 2 and all(.[]; .method == "POST" and (.request_id | startswith("req_")))'
req GET '/_fake/requests?path=/responses/resp_lost'
check "requests?path= matches the end of the raw path" jqt 'length == 1 and .[0].method == "GET"'
req POST /_fake/seed --data-binary '{"responses":[{"id":"r","cancel_delay_ms":5}]}'
check "seed: cancel_delay_ms on a response -> 400" \
    jqt '.error.message == "responses[0]: cancel_delay_ms applies only to batches (the kind that passes through cancelling)"'
req POST /_fake/seed --data-binary '{"batches":[{"id":"b","request_counts":{"total":-1}}]}'
check "seed: a negative request count -> 400" jqt '.error.message == "batches[0]: request_counts.total must be an integer >= 0"'
req POST /_fake/seed --data-binary '{"fine_tuning_jobs":[{"trained_tokens":"many"}]}'
check "seed: trained_tokens not a number -> 400" jqt '.error.message == "fine_tuning_jobs[0]: trained_tokens must be an integer >= 0 or null"'
req POST /_fake/seed --data-binary '{"threads":[{"id":"t","runs":[{"created_at":"soon"}]}]}'
check "seed: a run time not a number -> 400" jqt '.error.message == "thread '"'"'t'"'"': '"'"'created_at'"'"' must be a number or null"'
req POST /_fake/seed --data-binary '{"threads":[{"id":"t","runs":[{"id":"r"},{"id":"r"}]}]}'
check "seed: a duplicate run id -> 400" jqt '.error.message == "duplicate run id '"'"'r'"'"' in thread '"'"'t'"'"'"'
req POST /_fake/seed --data-binary '{"threads":[{"id":"t"},{"id":"t"}]}'
check "seed: a duplicate thread id -> 400" jqt '.error.message == "duplicate thread id '"'"'t'"'"'"'
req POST /_fake/seed --data-binary '{"batches":[{"id":"b"},{"id":"b"}]}'
check "seed: a duplicate batch id -> 400" jqt '.error.message == "duplicate batch id '"'"'b'"'"'"'
req POST /_fake/seed --data-binary '{"vector_stores":[{"id":"v"},{"id":"v"}]}'
check "seed: a duplicate vector store id -> 400" jqt '.error.message == "duplicate vector store id '"'"'v'"'"'"'
req POST /_fake/faults --data-binary '{"status":700}'
check "fault: status out of range -> 400" jqt '.error.message == "fault 0: '"'"'status'"'"' must be an integer in 100..599"'
req POST /_fake/faults --data-binary '[{"status":500},{"count":0}]'
check "fault: count 0 -> 400, nothing queued" bash -c "[ $STATUS = 400 ] && curl -s '$BASE/_fake/faults' | jq -e 'length == 0' >/dev/null"
req POST /_fake/faults --data-binary '{"close":"later"}'
check "fault: an unknown close -> 400 naming the choices" jqt '.error.message == "fault 0: '"'"'close'"'"' must be \"before\", \"middle\" or \"after\""'
# eval runs: listed oldest first, cancelled by a POST to the run itself ("canceled")
api GET /v1/evals/eval_s/runs
check "eval runs list oldest first by default" \
    jqt '.object == "list" and [.data[].id] == ["evalrun_old","evalrun_done","evalrun_new"] and .has_more == false and all(.data[]; .object == "eval.run" and .eval_id == "eval_s")'
api GET '/v1/evals/eval_s/runs?order=desc&limit=2'
check "eval runs order=desc&limit=2: newest first, has_more" jqt '[.data[].id] == ["evalrun_new","evalrun_done"] and .has_more == true'
api GET '/v1/evals/eval_s/runs?status=queued'
check "eval runs status=queued filters" jqt '[.data[].id] == ["evalrun_old"]'
api POST /v1/evals/eval_s/runs/evalrun_new
check "POST /v1/evals/{e}/runs/{r} cancels: canceled at once" jqt '.id == "evalrun_new" and .status == "canceled"'
api GET /v1/evals/eval_s/runs/evalrun_new
check "the eval run reads canceled after" jqt '.status == "canceled"'
api POST /v1/evals/eval_s/runs/evalrun_done
check "cancel a completed eval run -> 400" refused 400 "Cannot cancel an eval run with status 'completed'."
api POST /v1/evals/eval_nope/runs/evalrun_old
check "an unknown eval -> 404 naming it" refused 404 "No eval found with id 'eval_nope'."
api POST /v1/evals/eval_s/runs/evalrun_old/cancel
check "eval runs have no .../cancel route -> 404" jqt '.error.message == "Invalid URL (POST /v1/evals/eval_s/runs/evalrun_old/cancel)"'
# fine-tuning pause and resume: running <-> paused, anything else refused
api POST /v1/fine_tuning/jobs/ftjob-pause/pause
check "pause a running job -> 200 paused" jqt '.id == "ftjob-pause" and .status == "paused"'
api POST /v1/fine_tuning/jobs/ftjob-pause/pause
check "pause a paused job -> 400" refused 400 "Cannot pause a fine-tuning job with status 'paused'."
api POST /v1/fine_tuning/jobs/ftjob-pause/resume
check "resume a paused job -> 200 running" jqt '.id == "ftjob-pause" and .status == "running"'
api POST /v1/fine_tuning/jobs/ftjob-done/resume
check "resume a succeeded job -> 400" refused 400 "Cannot resume a fine-tuning job with status 'succeeded'."
api POST /v1/batches/batch_done/pause
check "batches have no pause route -> 404" is "$STATUS" 404
api GET /v1/fine_tuning/jobs/ftjob-pause/pause
check "GET on the pause route -> 404" is "$STATUS" 404

ctrl_post /_fake/reset ''
req GET /_fake/config
check "reset restores the command line's style" jqt '.cancel_style == "live" and .cancel_delay_ms == 100'
check "SIGTERM -> clean exit 0, no sanitizer reports (styles)" stop_server styles

# ---- costs and usage (spend.c) ----
start_server spend --api-key "$KEY" --admin-key sk-smoke-admin-0123456789 \
    --seed <(echo '{"costs":[{"time":-60,"usd":2.5,"project_id":"p1","line_item":"batch"},{"time":-60,"usd":1,"project_id":"p2"}],"usage":[{"time":-60,"model":"m1","input_tokens":10,"output_tokens":5,"num_model_requests":1}]}')
BASE="http://127.0.0.1:$PORT_spend"
ADMIN="Authorization: Bearer sk-smoke-admin-0123456789"
NOW=$(date +%s)
SINCE=$((NOW - NOW % 86400 - 86400))   # yesterday 00:00 UTC: the seed's spend is in these two days
req GET "/v1/organization/costs?start_time=$SINCE" -H "$ADMIN"
check "costs: one-day buckets, one result summing every project" jqt '.object == "page" and (.data | length) == 2 and ([.data[].results[].amount.value] | add) == 3.5 and ([.data[].results[]] | length) == 1 and .data[0].end_time - .data[0].start_time == 86400 and .has_more == false and .next_page == null'
req GET "/v1/organization/costs?start_time=$SINCE&group_by%5B%5D=project_id&project_ids%5B%5D=p1" -H "$ADMIN"
check "costs: group_by[] and project_ids[]" jqt '[.data[].results[]] | length == 1 and .[0].project_id == "p1" and .[0].amount.value == 2.5'
req GET "/v1/organization/costs?start_time=$((NOW - 3 * 86400))&limit=2" -H "$ADMIN"
check "costs: pages with next_page" jqt '(.data | length) == 2 and .has_more == true and (.next_page | startswith("page_"))'
req GET "/v1/organization/usage/completions?start_time=$((NOW - 600))&bucket_width=1m&limit=20&group_by%5B%5D=model" -H "$ADMIN"
check "usage: 1-minute buckets, tokens by model" jqt '[.data[].results[]] | length == 1 and .[0].model == "m1" and .[0].input_tokens == 10 and .[0].output_tokens == 5'
req GET "/v1/organization/costs?start_time=1" -H "Authorization: Bearer $KEY"
check "a project key -> 403 Missing scopes" jqt '.error.message | startswith("You have insufficient permissions for this operation. Missing scopes: api.usage.read.")'
req GET "/v1/organization/costs" -H "$ADMIN"
check "no start_time -> 400" is "$STATUS" 400
req POST /_fake/spend --data-binary '{"costs":[{"time":0,"usd":1.5,"project_id":"p1"}]}'
check "POST /_fake/spend adds spend" jqt '(.costs | length) == 3'
req GET "/v1/organization/costs?start_time=$SINCE" -H "$ADMIN"
check "  which the next listing counts" jqt '[.data[].results[].amount.value] | add == 5'
check "SIGTERM -> clean exit 0, no sanitizer reports (spend)" stop_server spend

if [ "$N" -ne 186 ]; then
    echo "# planned 186 tests, ran $N"
    FAILED=$((FAILED + 1))
fi
echo "1..$N"
exit $((FAILED > 0))
