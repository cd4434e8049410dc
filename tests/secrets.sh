#!/bin/sh
# tests/secrets.sh — runs every Lua test again with OPENAI_LOG=debug (every
# attempt logged with its headers, in the test and in every runctl it starts)
# and fails if any API key the tests use appears in any output. Every test
# also runs with an admin key in OPENAI_ADMIN_KEY (the costs and usage key),
# which must not show either. Prints TAP.
RUNCTL=${RUNCTL:-./runctl}
FAKEAPI=${FAKEAPI:-build/fakeapi}
LUA_PATH=${LUA_PATH:-"tests/lua/?.lua;;"}
export FAKEAPI LUA_PATH
dir=${TEST_TMPDIR:-/tmp}/secrets
n=0
fails=0
for t in tests/lua/test_*.lua; do
    rm -rf "$dir"
    mkdir -p "$dir"
    OPENAI_LOG=debug OPENAI_ADMIN_KEY=sk-test-admin-secrets-scan-0123456789 RUNCTL_SECRET_SCAN=1 TEST_TMPDIR="$dir" $RUNCTL_WRAP "$RUNCTL" "$t" >"$dir/stdout" 2>"$dir/stderr"
    status=$?
    n=$((n + 1))
    if [ $status -ne 0 ]; then
        echo "not ok $n - $t passes with OPENAI_LOG=debug (exit status $status)"
        grep "^not ok" "$dir/stdout" | head -3 | sed 's/^/#   /'
        fails=$((fails + 1))
    else
        echo "ok $n - $t passes with OPENAI_LOG=debug"
    fi
    n=$((n + 1))
    # Every key in the tests starts with sk- followed by test/wrong/demo. Every
    # file runctl writes counts (outputs, reports, journals, metrics, logs of
    # runctls started in the background); not what tests write for it to read
    # (*.in, *.lua, *.json seeds, *.env) nor the fake servers' own logs (*.log).
    leaks=$(grep -rhoE 'sk-(test|wrong|demo)[A-Za-z0-9_-]*' "$dir" --exclude='*.in' --exclude='*.lua' --exclude='*.json' \
            --exclude='*.env' --exclude='*.log' --exclude='*.port' | sort -u | head -3 | tr '\n' ' ')
    if [ -n "$leaks" ]; then
        echo "not ok $n - no API key in any output of $t with OPENAI_LOG=debug (found: $leaks)"
        fails=$((fails + 1))
    else
        echo "ok $n - no API key in any output of $t with OPENAI_LOG=debug"
    fi
    grep -q 'Authorization: REDACTED\|api-key: REDACTED' "$dir/stderr" "$dir"/*.err 2>/dev/null && logged=1
    pkill -f -- "$dir/" 2>/dev/null
done
n=$((n + 1))
if [ "${logged:-0}" = 1 ]; then
    echo "ok $n - the debug logs did show redacted auth headers (the scan saw real logging)"
else
    echo "not ok $n - the debug logs never showed a redacted auth header: the scan saw no logging"
    fails=$((fails + 1))
fi
echo "1..$n"
[ $fails -eq 0 ]
