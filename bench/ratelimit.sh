#!/bin/sh
# bench/ratelimit.sh — the rate-limited section of `make bench` (also runnable
# alone: sh bench/ratelimit.sh): 2,000 batch cancels, 64 at a time, against
# the fake in its rate-limit mode (a token bucket of RL_RATE/s, burst
# RL_BURST, x-ratelimit-* headers on every answer) for each style of 429
# (retry-after-ms, retry-after seconds, retry-after HTTP date, only the
# reset header), by runctl, the official Node SDK (its default retries and
# maxRetries 10; when Node.js and npm are there) and curl --parallel
# --retry 10 (stopped after RL_CURL_MAX seconds, 120). Prints, per row: completed, failed, wall time as a multiple of
# the ideal (N - burst) / rate, and requests sent (counted by the fake). Each
# row takes about (N - burst) / rate seconds: run it once for the figures.
set -e
N=${RL_N:-2000}
RL_RATE=${RL_RATE:-200}
RL_BURST=${RL_BURST:-20}
# curl's own backoff (1 s, then 2, 4, ...: the tenth retry 17 minutes on) can hold its row
# for an hour: the row is stopped after RL_CURL_MAX seconds, what had not completed counted failed
CURL_MAX=${RL_CURL_MAX:-120}
STYLES=${RL_STYLES:-ms seconds date reset}
CLIENTS=${RL_CLIENTS:-runctl node curl}
has() { case " $CLIENTS " in *" $1 "*) return 0 ;; esac; return 1; }
RUNCTL=$(pwd)/runctl
FAKEAPI=$(pwd)/build/fakeapi
dir=$(mktemp -d)
trap 'kill $fake_pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
say() { printf '%s\n' "$*" >&2; }
now_ns() { date +%s%N; }

awk -v n="$N" 'BEGIN { printf "{\"batches\":["; for (i = 1; i <= n; i++) printf "%s{\"id\":\"batch_rl_%05d\",\"status\":\"in_progress\"}", (i > 1 ? "," : ""), i; print "]}" }' > "$dir/seed.json"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "batch_rl_%05d\n", i }' > "$dir/ids"
"$FAKEAPI" --port 0 --port-file "$dir/port" --seed "$dir/seed.json" --cancel-delay-ms 0 --no-record --quiet \
    >/dev/null 2>&1 &
fake_pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
url="http://127.0.0.1:$(cat "$dir/port")"
export OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="$url/v1"
# (one file per answer: curl 7.88 --retry cannot truncate /dev/null and gives up: error 23)
mkdir -p "$dir/out"
awk -v base="$url/v1" -v out="$dir/out" '{ print "url = \"" base "/batches/" $1 "/cancel\""; print "output = \"" out "/" NR "\"" }' \
    "$dir/ids" > "$dir/curl.cfg"
if command -v npm >/dev/null && [ ! -d bench/node-sdk/node_modules/openai ]; then
    say "bench: installing the Node SDK peer (npm ci in bench/node-sdk)..."
    npm ci --prefix bench/node-sdk --no-audit --no-fund >/dev/null 2>&1 || say "bench: no Node SDK peer (npm ci failed)"
fi
node_ok=$([ -d bench/node-sdk/node_modules/openai ] && command -v node >/dev/null && echo 1 || echo 0)

# style HINT: the fake reset (every batch in_progress again) in that 429 style
style() {
    curl -s -X POST "$url/_fake/reset" >/dev/null
    curl -s -X POST -d "{\"rate_limit\":{\"rate\":$RL_RATE,\"burst\":$RL_BURST,\"hint\":\"$1\",\"headers\":true}}" \
        "$url/_fake/config" >/dev/null
}
# row NAME T0_NS T1_NS COMPLETED FAILED: one line, requests from the fake's counts
row() {
    sent=$(curl -s "$url/_fake/ratelimit" | sed -n 's/.*"admitted":\([0-9]*\),"limited":\([0-9]*\).*/\1 \2/p')
    awk -v name="$1" -v ns=$(($3 - $2)) -v ok="$4" -v bad="$5" -v sent="$sent" -v n="$N" -v r="$RL_RATE" -v b="$RL_BURST" 'BEGIN {
        split(sent, s, " "); ideal = (n - b) / r
        printf "  %-24s %9d %7d %7.2fx %8d (%.2fx N)\n", name, ok, bad, ns / 1e9 / ideal, s[1] + s[2], (s[1] + s[2]) / n }'
}

say "bench: rate-limited section: $N cancels at ${RL_RATE}/s, burst $RL_BURST, each 429 style..."
printf '\n%s\n' "rate-limited: $N batch cancels at concurrency 64 against a ${RL_RATE}/s bucket, burst $RL_BURST (ideal $(awk -v n="$N" -v r="$RL_RATE" -v b="$RL_BURST" 'BEGIN { printf "%.1f", (n - b) / r }') s)"
printf '  %-24s %9s %7s %8s %8s\n' "429 style / client" completed failed "time" requests
for hint in $STYLES; do
    case $hint in
        ms) printf '%s\n' " retry-after-ms (time to the next token)" ;;
        seconds) printf '%s\n' " retry-after: seconds" ;;
        date) printf '%s\n' " retry-after: HTTP date" ;;
        reset) printf '%s\n' " no retry hint, x-ratelimit-reset-requests only" ;;
    esac
    if has runctl; then
    style "$hint"
    t0=$(now_ns)
    "$RUNCTL" cancel --kind batches --file "$dir/ids" --concurrency 64 --json --report "$dir/report" 2>/dev/null || true
    t1=$(now_ns)
    bad=$(grep -c '"action":"failed"' "$dir/report" || true)
    good=$(grep -c '"action":"cancelled"\|"action":"already_done"' "$dir/report" || true)
    row runctl "$t0" "$t1" "$good" "$bad"
    fi
    if [ "$node_ok" = 1 ] && has node; then
        for retries in "" 10; do
            style "$hint"
            t0=$(now_ns)
            node bench/node-sdk/cancel-batches.mjs "$dir/ids" 64 $retries > "$dir/node.json" 2>/dev/null || true
            t1=$(now_ns)
            ok=$(sed -n 's/.*"ok":\([0-9]*\).*/\1/p' "$dir/node.json")
            bad=$(sed -n 's/.*"failed":\([0-9]*\).*/\1/p' "$dir/node.json")
            label="Node SDK default retries"
            [ -z "$retries" ] || label="Node SDK maxRetries $retries"
            row "$label" "$t0" "$t1" "${ok:-0}" "${bad:-$N}"
        done
    fi
    has curl || continue
    style "$hint"
    t0=$(now_ns)
    timeout "$CURL_MAX" curl -s --parallel --parallel-max 64 --retry 10 -X POST -H 'Authorization: Bearer sk-bench' \
        -d '' -w '%{http_code}\n' --config "$dir/curl.cfg" > "$dir/codes" 2>/dev/null && label="curl --retry 10" \
        || label="curl --retry 10 (cut)"
    t1=$(now_ns)
    # completed: what the fake let through (a cut curl never flushes its -w lines)
    good=$(curl -s "$url/_fake/ratelimit" | sed -n 's/.*"admitted":\([0-9]*\),.*/\1/p')
    row "$label" "$t0" "$t1" "$good" $((N - good))
done
[ "$node_ok" = 1 ] || printf '%s\n' "  (no Node SDK row: Node.js or npm missing, or npm ci failed)"
