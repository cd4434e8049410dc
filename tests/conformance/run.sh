#!/bin/sh
# tests/conformance/run.sh — the conformance test: installs the pinned Prism
# (npm ci, only when node_modules is missing or stale), starts it on 127.0.0.1
# with the official OpenAPI spec and request validation on, puts proxy.js in
# front of it, and runs drive.lua through runctl. Prints TAP; with --summary
# it also ends with "N passed, N failed". Skips, saying why, without Node/npm
# or the spec. The spec is read at run time and never copied.
#
# Environment: OPENAPI_SPEC (default ../shared/openapi.yaml beside the repo),
# RUNCTL (default ./runctl), RUNCTL_WRAP, CONFORMANCE_N (random answers per
# endpoint; 300, or 20 under RUNCTL_WRAP), CONFORMANCE_SEED (replays the
# proxy's mutations).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
RUNCTL=${RUNCTL:-./runctl}
spec=${OPENAPI_SPEC:-$root/../shared/openapi.yaml}
summary=0
[ "${1:-}" = "--summary" ] && summary=1

finish() {
    # finish PASSED FAILED STATUS
    [ "$summary" -eq 1 ] && echo "$1 passed, $2 failed"
    exit "$3"
}

skip() {
    echo "1..0 # SKIP $1"
    echo "# skipped: $1"
    finish 0 0 0
}

fail() {
    echo "not ok 1 - conformance: $1"
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -20 "$2" | sed 's/^/#   /'
    echo "1..1"
    finish 0 1 1
}

[ -r "$spec" ] || skip "no OpenAPI spec at $spec (set OPENAPI_SPEC to its path)"
command -v node >/dev/null 2>&1 || skip "node is not installed (Prism runs on Node.js >= 18.20.1)"
command -v npm >/dev/null 2>&1 || skip "npm is not installed (it installs the pinned Prism)"
node -e 'const [a, b] = process.versions.node.split(".").map(Number);
         process.exit(a > 18 || (a === 18 && b >= 20) ? 0 : 1)' 2>/dev/null ||
    skip "node $(node --version 2>/dev/null) is older than Prism 5.14 needs (18.20.1)"

work=$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/conformance.XXXXXX") || exit 1
prism_pid=
proxy_pid=
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
    [ -n "$prism_pid" ] && kill "$prism_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The test tools: reinstalled from the committed lock file whenever it changed.
stamp="$here/node_modules/.runctl-lock-stamp"
want=$(cksum < "$here/package-lock.json")
stale() {
    [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] ||
        [ ! -f "$here/node_modules/@stoplight/prism-cli/dist/index.js" ]
}
if stale; then
    # Two test runs in one checkout must not run npm ci over each other.
    if command -v flock >/dev/null 2>&1; then
        exec 9>"${TMPDIR:-/tmp}/runctl-conformance-$(echo "$here" | cksum | cut -d' ' -f1).lock"
        flock 9
    fi
    if stale; then
        echo "# installing the test tools: npm ci in tests/conformance"
        # No install scripts (none is needed) and no analytics calls from them.
        if ! (cd "$here" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund \
                --loglevel=error) >"$work/npm.log" 2>&1; then
            # Offline (no route, no DNS, a proxy refusing): not runctl's fault.
            if grep -Eq 'E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH)|network|proxy' \
                    "$work/npm.log"; then
                skip "the npm registry $(npm config get registry 2>/dev/null) cannot be reached to install Prism ($(grep -m1 -E 'code E|network' "$work/npm.log" | sed 's/^npm ERR! *//; s/^npm error *//'))"
            fi
            fail "npm ci in tests/conformance failed" "$work/npm.log"
        fi
        echo "$want" > "$stamp"
    fi
    exec 9>&-
fi

# Prism on a free port: port 0, then read the port from its start-up line.
start=$(date +%s)
# One Prism for both phases: the dynamic one asks for random answers with
# "Prefer: dynamic=true" (added by proxy.js). No --errors: Prism validates
# requests either way (422 on a bad one, and drive.lua checks that it does);
# --errors would also turn answers that Prism itself generates outside the
# schema into 500s, hiding them from runctl.
node "$here/node_modules/@stoplight/prism-cli/dist/index.js" mock --host 127.0.0.1 --port 0 \
    "$spec" >"$work/prism.log" 2>&1 &
prism_pid=$!
node "$here/spec.js" "$spec" "$work/spec.json" >"$work/spec.log" 2>&1 ||
    fail "could not read the spec with spec.js" "$work/spec.log"
port=
i=0
while [ $i -lt 1800 ]; do
    port=$(sed -n 's/.*Prism is listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$work/prism.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$prism_pid" 2>/dev/null || fail "Prism exited while starting" "$work/prism.log"
    sleep 0.1
    i=$((i + 1))
done
[ -n "$port" ] || fail "Prism did not start within 180 s" "$work/prism.log"
echo "# Prism $(node -p 'require(process.argv[1]).version' "$here/node_modules/@stoplight/prism-cli/package.json") on 127.0.0.1:$port, started in $(( $(date +%s) - start )) s; $(cat "$work/spec.log")"

seed=${CONFORMANCE_SEED:-$(date +%s)}
node "$here/proxy.js" "http://127.0.0.1:$port" "$work/proxy.port" "$seed" >"$work/proxy.log" 2>&1 &
proxy_pid=$!
i=0
while [ ! -s "$work/proxy.port" ] && [ $i -lt 100 ]; do
    kill -0 "$proxy_pid" 2>/dev/null || fail "proxy.js exited while starting" "$work/proxy.log"
    sleep 0.1
    i=$((i + 1))
done
[ -s "$work/proxy.port" ] || fail "proxy.js did not start" "$work/proxy.log"
proxy="http://127.0.0.1:$(tr -d '\n' < "$work/proxy.port")"
echo "# mutation seed $seed (CONFORMANCE_SEED=$seed replays it)"

if [ -n "${RUNCTL_WRAP:-}" ]; then n=${CONFORMANCE_N:-20}; else n=${CONFORMANCE_N:-300}; fi
# A watchdog, so a wait that never ends fails the test instead of hanging it.
watchdog=
command -v timeout >/dev/null 2>&1 && watchdog="timeout -k 10 900"
# shellcheck disable=SC2086 # RUNCTL_WRAP and watchdog are command lines by design
CONFORMANCE_PROXY=$proxy CONFORMANCE_SPEC_JSON=$work/spec.json CONFORMANCE_N=$n \
    OPENAI_API_KEY='' OPENAI_BASE_URL='' \
    $watchdog $RUNCTL_WRAP "$RUNCTL" tests/conformance/drive.lua >"$work/tap" 2>"$work/driver.err"
status=$?
cat "$work/tap"
if [ "$status" -ne 0 ] && ! grep -q '^1\.\.' "$work/tap"; then
    # The driver died (a crash or a raise): show its error and the last
    # answers it was given, so the input that broke it can be replayed.
    echo "not ok - conformance: drive.lua exited with status $status before finishing"
    died=1
    sed 's/^/#   stderr: /' "$work/driver.err" | tail -30
    echo "#   the last answers runctl received (proxy log):"
    node -e 'const http = require("http");
        http.get(process.argv[1] + "/_log?last=3", (r) => { let b = ""; r.on("data", (c) => b += c);
          r.on("end", () => { for (const e of JSON.parse(b).entries) console.log(JSON.stringify(
            { seq: e.seq, request: e.method + " " + e.target, status: e.status, mutated: e.mutated,
              body: String(e.response_body).slice(0, 2000) })); }); });' "$proxy" 2>&1 | sed 's/^/#   /'
elif [ "$status" -ne 0 ]; then
    sed 's/^/#   stderr: /' "$work/driver.err" | tail -30
fi
passed=$(grep -c '^ok ' "$work/tap")
failed=$(grep -c '^not ok ' "$work/tap")
[ -n "${died:-}" ] && failed=$((failed + 1))
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
finish "$passed" "$failed" "$status"
