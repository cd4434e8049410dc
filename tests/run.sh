#!/bin/sh
# tests/run.sh — runs every test: the C unit tests, then each Lua test file (each
# starts its own fake API servers on 127.0.0.1), all as TAP; ends with the line
# "N passed, N failed" and exits non-zero when anything failed.
RUNCTL=${RUNCTL:-./runctl}
FAKEAPI=${FAKEAPI:-build/fakeapi}
UNIT=${UNIT:-build/test_core}
LUA_PATH="tests/lua/?.lua;;"
export RUNCTL FAKEAPI RUNCTL_WRAP LUA_PATH
unset OPENAI_API_KEY OPENAI_ADMIN_KEY OPENAI_BASE_URL OPENAI_ORG_ID OPENAI_PROJECT_ID OPENAI_LOG
passed=0
failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/runctl-tests.XXXXXX")
# No extension of the person running the tests: only those a test installs.
unset RUNCTL_PATH
export XDG_CONFIG_HOME="$work/config"
trap 'pkill -f -- "$work/" 2>/dev/null; rm -rf "$work"' EXIT INT TERM

# run_one NAME COMMAND...: runs a TAP producer, prints its lines, counts them.
run_one() {
    name=$1
    shift
    echo "# $name"
    out="$work/out"
    # A hung test fails (status 124) instead of hanging the whole run.
    TEST_TMPDIR="$work" timeout "${TEST_TIMEOUT:-900}" "$@" >"$out" 2>"$work/err"
    status=$?
    p=$(grep -c '^ok ' "$out")
    f=$(grep -c '^not ok ' "$out")
    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | tail -1)
    grep -E "^(ok |not ok |#)" "$out" | sed -E "s%^(not ok|ok) [0-9]+ -? ?%\1 - $name: %"
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: exited with status $status"
        f=$((f + 1))
    fi
    if [ -z "$plan" ] || [ "$plan" -ne $((p + f)) ] && [ "$status" -eq 0 ]; then
        echo "not ok - $name: planned ${plan:-no} tests, ran $((p + f))"
        f=$((f + 1))
    fi
    if [ "$f" -gt 0 ] || [ "$status" -ne 0 ]; then
        sed 's/^/#   stderr: /' "$work/err" | tail -40
        for log in "$work"/*.port.log; do   # what the fake servers said, if anything
            [ -s "$log" ] && sed "s|^|#   $(basename "$log"): |" "$log" | tail -30
        done
    fi
    pkill -f -- "$work/" 2>/dev/null
    rm -f "$work"/*.port.log
    passed=$((passed + p))
    failed=$((failed + f))
}

run_one unit $RUNCTL_WRAP "$UNIT"
for t in tests/lua/test_*.lua; do
    [ -n "$ONLY" ] && case "$t" in *"$ONLY"*) ;; *) continue ;; esac
    run_one "$(basename "$t" .lua)" $RUNCTL_WRAP "$RUNCTL" "$t"
done
# With ASAN_RUNCTL set (make check sets it), the unit tests and every Lua test
# run again on the AddressSanitizer + UBSan build of runctl and the fake server.
if [ -n "$ASAN_RUNCTL" ]; then
    plain_runctl=$RUNCTL
    plain_fakeapi=$FAKEAPI
    RUNCTL=$ASAN_RUNCTL
    FAKEAPI=$ASAN_FAKEAPI
    # build-asan/ has no scripts/ beside its runctl: the tree's (a test of the
    # look-up itself unsets it).
    had_scripts=${RUNCTL_SCRIPTS+set}
    RUNCTL_SCRIPTS=${RUNCTL_SCRIPTS:-$(pwd)/scripts}
    export RUNCTL_SCRIPTS
    run_one asan:unit "$ASAN_UNIT"
    for t in tests/lua/test_*.lua; do
        [ -n "$ONLY" ] && case "$t" in *"$ONLY"*) ;; *) continue ;; esac
        run_one "asan:$(basename "$t" .lua)" "$RUNCTL" "$t"
    done
    RUNCTL=$plain_runctl
    FAKEAPI=$plain_fakeapi
    [ -n "$had_scripts" ] || unset RUNCTL_SCRIPTS
fi
# The LuaJIT pass (make check sets LUAJIT_BUILD=build-luajit): the Lua tests
# again in luajit with the LuaJIT build of the module (tests/luajit/run.lua;
# those of the runctl command skip, naming why) and its C hosts (EMBED_BUILD).
if [ -n "$LUAJIT_BUILD" ]; then
    if [ ! -f "$LUAJIT_BUILD/module/runctl.so" ] || ! command -v luajit >/dev/null 2>&1; then
        echo "# skipped: the LuaJIT pass ($LUAJIT_BUILD/module/runctl.so or luajit missing: make deps luajit)"
    else
        export EMBED_BUILD="$LUAJIT_BUILD"
        for t in tests/lua/test_*.lua; do
            [ -n "$ONLY" ] && case "$t" in *"$ONLY"*) ;; *) continue ;; esac
            run_one "luajit:$(basename "$t" .lua)" luajit tests/luajit/run.lua "$LUAJIT_BUILD" "$t"
        done
        unset EMBED_BUILD
    fi
fi
# Conformance against the official OpenAPI spec (tests/conformance/run.sh):
# prints "skipped: <reason>" without Node/npm or the spec.
case conformance in *"${ONLY:-conformance}"*) run_one conformance sh tests/conformance/run.sh ;; esac
# The secrets pass runs every Lua test again (with OPENAI_LOG=debug): under a
# wrapper (make check-valgrind) that takes far longer than one test file may.
if [ -z "$ONLY" ]; then
    per_test_timeout=${TEST_TIMEOUT:-900}
    [ -n "$RUNCTL_WRAP" ] && TEST_TIMEOUT=$((per_test_timeout * 8))
    run_one secrets sh tests/secrets.sh
    TEST_TIMEOUT=$per_test_timeout
fi
# luacheck over the Lua (tests/lint.sh, .luacheckrc): zero warnings.
case lint in *"${ONLY:-lint}"*) run_one lint sh tests/lint.sh ;; esac
# The fake server's own checks (every cancel style's exact status and body, seeds, faults).
case fakeapi in *"${ONLY:-fakeapi}"*) run_one fakeapi sh tests/fakeapi/smoke.sh ;; esac
case package in *"${ONLY:-package}"*) run_one package "$RUNCTL" tests/package.lua ;; esac
[ -z "$ONLY$NO_FUZZ" ] && run_one fuzz make --no-print-directory -s fuzz FUZZ_TIME=3
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
