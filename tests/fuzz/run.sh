#!/bin/sh
# tests/fuzz/run.sh — runs each libFuzzer target for SECONDS; one TAP line each.
secs=$1
shift
n=0
fails=0
for t in "$@"; do
    n=$((n + 1))
    corpus=build/fuzz/corpus-$t
    mkdir -p "$corpus"
    if build/fuzz/"$t" -max_total_time="$secs" -max_len=4096 -artifact_prefix=build/fuzz/ "$corpus" tests/fuzz/seeds \
        >build/fuzz/"$t".log 2>&1; then
        echo "ok $n - fuzz $t for ${secs}s: no crash, leak or sanitizer report"
    else
        echo "not ok $n - fuzz $t found a problem (see build/fuzz/$t.log and the crash- file)"
        tail -20 build/fuzz/"$t".log | sed 's/^/# /'
        fails=$((fails + 1))
    fi
done
echo "1..$n"
[ $fails -eq 0 ]
