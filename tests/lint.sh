#!/bin/sh
# tests/lint.sh — luacheck over runctl's Lua (lua/lib, scripts, tests, tools,
# bench, packaging, share) with the checked-in .luacheckrc, as TAP: one line per
# warning, or one ok; skips with the reason when luacheck is not installed.
# Run from the repository's root (make lint; tests/run.sh runs it as "lint").
PATHS="lua/lib scripts tests tools bench packaging share"
if ! command -v luacheck >/dev/null 2>&1; then
    echo "1..0 # SKIP luacheck is not installed (Debian: lua-check; make deps installs it)"
    exit 0
fi
out=$(luacheck --no-color --formatter plain $PATHS 2>&1)
status=$?
n=$(printf '%s\n' "$out" | grep -c ':[0-9]*:[0-9]*: ')
if [ "$n" -eq 0 ] && [ "$status" -ne 0 ]; then      # luacheck itself failed (a bad .luacheckrc)
    echo "1..1"
    echo "not ok 1 - luacheck runs (exit $status)"
    printf '%s\n' "$out" | sed 's/^/# /'
    exit 1
fi
if [ "$n" -eq 0 ]; then
    echo "1..1"
    echo "ok 1 - luacheck: no warnings in $PATHS"
    exit 0
fi
echo "1..$n"
printf '%s\n' "$out" | grep ':[0-9]*:[0-9]*: ' | awk '{ print "not ok " NR " - luacheck: " $0 }'
exit 1
