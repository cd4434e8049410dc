# examples/frame-loop-fake.sh — sourced by the frame-loop scripts: a seed of
# queued runs and the fake API server on a free port. Uses $BUILD and $dir;
# appends each server's pid to $pids (the caller's trap kills them).
# The fake is $FAKEAPI when set (a LuaJIT build folder has none of its own).

# seed_runs FILE N: thread "thread_frame" with queued runs run_1..run_N
seed_runs() {
    {
        printf '{"threads":[{"id":"thread_frame","runs":['
        i=1
        while [ $i -le "$2" ]; do
            [ $i -gt 1 ] && printf ','
            printf '{"id":"run_%d","status":"queued","created_at":-60}' $i
            i=$((i + 1))
        done
        printf ']}]}\n'
    } > "$1"
}

# start_fake NAME LATENCY_MS SEED: a fake API answering in LATENCY_MS; its port
# goes to $dir/NAME.port. Exits 1 when it does not start.
start_fake() {
    "${FAKEAPI:-$BUILD/fakeapi}" --port 0 --port-file "$dir/$1.port" --quiet --no-record --latency-ms "$2" \
        --seed "$3" >/dev/null 2>&1 &
    pids="$pids $!"
    i=0
    while [ ! -s "$dir/$1.port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
    [ -s "$dir/$1.port" ] || { echo "$(basename "$0" .sh): the fake API server did not start" >&2; exit 1; }
}
