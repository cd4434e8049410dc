#!/bin/sh
# bench/run.sh — `make bench`: measures runctl against its peers on this machine,
# in this one run: cold start vs curl, 20,000 cancels at concurrency 64 vs
# curl --parallel and vs wrk's raw rate (the streaming job, the natural task.map
# script keeping every Run, task.each), peak RSS at 2k/20k/100k cancels, CPU
# and instructions per cancel, the frame-loop host's worst frame, the fake
# server's own rate, and against a fast static nginx (tests/tools/nginx-run.sh):
# cancels over TLS with HTTP/2 (connections opened, rate, CPU per cancel),
# directly and through a relay adding RELAY_MS each way (bench/delay-relay.c),
# over plain HTTP (with the official Node SDK as a third peer over TLS when
# Node.js is there), and a cold start over TLS. Prints medians over REPS
# repetitions and their ratios.
set -e
REPS=${REPS:-5}
RUNCTL=$(pwd)/runctl
FAKEAPI=$(pwd)/build/fakeapi
RELAY=$(pwd)/build/delay-relay
RELAY_MS=${RELAY_MS:-10}
dir=$(mktemp -d)
ng=$dir/nginx
trap 'kill $fake_pid $relay_pid 2>/dev/null; sh tests/tools/nginx-run.sh stop "$ng"; rm -rf "$dir"' EXIT INT TERM

say() { printf '%s\n' "$*" >&2; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
now_ns() { date +%s%N; }
# cpu_of FILE: the children's user+sys seconds, from the last line `times` wrote.
cpu_of() { tail -1 "$1" | awk '{ gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }'; }
# json_field FILE FIELD: a top-level number from a one-line JSON object.
json_field() { sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p" "$1"; }

say "bench: seeding 100,000 in_progress runs..."
"$RUNCTL" bench/make-seed.lua 100000 "$dir/seed.json" "$dir/ids100k"
head -n 20000 "$dir/ids100k" > "$dir/ids20k"
head -n 2000 "$dir/ids100k" > "$dir/ids2k"
: > "$dir/ids0"
"$FAKEAPI" --port 0 --port-file "$dir/port" --seed "$dir/seed.json" --threads 2 --no-record --quiet \
    >/dev/null 2>&1 &
fake_pid=$!
i=0
while [ ! -s "$dir/port" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
url="http://127.0.0.1:$(cat "$dir/port")"
export OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="$url/v1"
reset() { curl -s -X POST "$url/_fake/reset" >/dev/null; }
one_url="$url/v1/threads/thread_bench_00001/runs/run_bench_00001_001/cancel"
awk -v base="$url/v1" '{ print "url = \"" base "/threads/" $1 "/runs/" $2 "/cancel\""; print "output = \"/dev/null\"" }' \
    "$dir/ids20k" > "$dir/curl20k.cfg"

# cold_start TAG RUNCTL_CMD CURL_CMD [HYPERFINE_OPTION...]: REPS rounds of hyperfine, 20 runs
# of each command per round, one after the other; prints "RUNCTL_MS CURL_MS", the medians of
# the rounds' medians. (One block of 40 runs per command let a burst of load from elsewhere on
# a shared machine land on one of the two only.)
cold_start() {
    tag=$1 c1=$2 c2=$3
    shift 3
    : > "$dir/$tag.cold"
    for rep in $(seq "$REPS"); do
        hyperfine -N --warmup 3 --runs 20 "$@" --export-json "$dir/$tag.json" "$c1" "$c2" >/dev/null 2>&1
        "$RUNCTL" -e 'local r = json.decode(io.read("a")).results
          print(("%.2f %.2f"):format(r[1].median * 1000, r[2].median * 1000))' < "$dir/$tag.json" >> "$dir/$tag.cold"
    done
    echo "$(awk '{ print $1 }' "$dir/$tag.cold" | median) $(awk '{ print $2 }' "$dir/$tag.cold" | median)"
}

# 1. cold start: one cancel, a fresh process each time
say "bench: cold start (hyperfine)..."
cold=$(cold_start plain "$RUNCTL -e assert(runs.cancel([[thread_bench_00001]],[[run_bench_00001_001]]))" \
    "curl -s -o /dev/null -X POST -H 'Authorization: Bearer sk-bench' -H 'OpenAI-Beta: assistants=v2' $one_url" \
    --prepare "curl -s -X POST $url/_fake/reset")
cold_runctl=${cold% *}
cold_curl=${cold#* }

# 2. 20,000 cancels at concurrency 64, alternating runctl / curl / wrk
say "bench: 20,000 cancels at concurrency 64, $REPS repetitions..."
: > "$dir/rate.runctl"; : > "$dir/rate.curl"; : > "$dir/rate.wrk"; : > "$dir/cpu.runctl"; : > "$dir/cpu.curl"
: > "$dir/rate.natural"; : > "$dir/rss.natural"; : > "$dir/rate.each"
for rep in $(seq "$REPS"); do
    reset
    sh -c "'$RUNCTL' bench/cancel-many.lua '$dir/ids20k' 64 > '$dir/out.json'; times" > "$dir/times"
    json_field "$dir/out.json" per_second >> "$dir/rate.runctl"
    cpu_of "$dir/times" >> "$dir/cpu.runctl"
    [ "$(json_field "$dir/out.json" failed)" = 0 ] || say "bench: warning: runctl saw failures: $(cat "$dir/out.json")"
    reset
    "$RUNCTL" bench/cancel-natural.lua "$dir/ids20k" > "$dir/out.json"
    json_field "$dir/out.json" per_second >> "$dir/rate.natural"
    json_field "$dir/out.json" peak_rss_kib >> "$dir/rss.natural"
    reset; "$RUNCTL" bench/cancel-each.lua "$dir/ids20k" | json_field /dev/stdin per_second >> "$dir/rate.each"
    reset
    t0=$(now_ns)
    sh -c "curl -s --parallel --parallel-max 64 -X POST -H 'Authorization: Bearer sk-bench' \
           -H 'OpenAI-Beta: assistants=v2' -d '' --config '$dir/curl20k.cfg' 2>/dev/null; times" > "$dir/times"
    t1=$(now_ns)
    awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", 20000 / (ns / 1e9) }' >> "$dir/rate.curl"
    cpu_of "$dir/times" >> "$dir/cpu.curl"
    reset
    BENCH_IDS="$dir/ids20k" BENCH_PREFIX=/v1 wrk -t2 -c64 -d3s -s bench/wrk-cancel.lua "$url" 2>/dev/null \
        | awk '/Requests\/sec/ { print $2 }' >> "$dir/rate.wrk"
done
rate_runctl=$(median < "$dir/rate.runctl")
rate_natural=$(median < "$dir/rate.natural")
rss_natural=$(median < "$dir/rss.natural")
rate_each=$(median < "$dir/rate.each")
rate_curl=$(median < "$dir/rate.curl")
rate_wrk=$(median < "$dir/rate.wrk")
cpu_runctl=$(median < "$dir/cpu.runctl")
cpu_curl=$(median < "$dir/cpu.curl")

# 3. peak RSS as the job grows
say "bench: peak RSS at 2,000 / 20,000 / 100,000 cancels..."
rss() { reset; "$RUNCTL" bench/cancel-many.lua "$dir/$1" 64 > "$dir/rss.json"; json_field "$dir/rss.json" peak_rss_kib; }
rss2k=$(rss ids2k)
rss20k=$(rss ids20k)
rss100k=$(rss ids100k)

# instructions_natural_and_curl: "NATURAL CURL", instructions per cancel of the natural
# script (2,000 cancels minus none) and of curl --parallel (2,000 minus one), by callgrind:
# the comparison this noisy shared machine cannot blur.
instructions_natural_and_curl() {
    refs() { valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$@" 2>&1 >/dev/null \
             | sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' | tr -d ,; }
    head -n 4000 "$dir/curl20k.cfg" > "$dir/curl2k.cfg"
    head -n 2 "$dir/curl20k.cfg" > "$dir/curl1.cfg"
    reset; n0=$(refs "$RUNCTL" bench/cancel-natural.lua "$dir/ids0")
    reset; n2k=$(refs "$RUNCTL" bench/cancel-natural.lua "$dir/ids2k")
    for cfg in curl1 curl2k; do
        reset
        refs curl -s --parallel --parallel-max 64 -X POST -H 'Authorization: Bearer sk-bench' \
            -H 'OpenAI-Beta: assistants=v2' -d '' --config "$dir/$cfg.cfg" > "$dir/$cfg.refs"
    done
    awk -v a="$n2k" -v b="$n0" -v c="$(cat "$dir/curl2k.refs")" -v d="$(cat "$dir/curl1.refs")" \
        'BEGIN { printf "%.0f %.0f", (a - b) / 2000, (c - d) / 1999 }'
}

# 4. instructions per cancel (callgrind counts instructions, not seconds)
ir_per_cancel="n/a (valgrind not installed)"
ir_natural_line="   the same, natural script vs curl      n/a"
if command -v valgrind >/dev/null; then
    say "bench: instructions per cancel (callgrind, 2,000 cancels minus an empty job)..."
    ir() {
        reset
        valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$RUNCTL" bench/cancel-many.lua "$dir/$1" 64 \
            2>&1 >/dev/null | sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' | tr -d ,
    }
    ir0=$(ir ids0)
    ir2k=$(ir ids2k)
    ir_per_cancel=$(awk -v a="$ir2k" -v b="$ir0" 'BEGIN { printf "%.0f", (a - b) / 2000 }')
    ir_natural_curl=$(instructions_natural_and_curl)
    ir_natural_line="   the same, natural script vs curl      $(printf '%-13s' "${ir_natural_curl% *}") curl \
$(printf '%-8s' "${ir_natural_curl#* }") $(ratio "${ir_natural_curl% *}" "${ir_natural_curl#* }")x curl's instructions"
fi

# 5. the frame-loop host: worst frame while 100 slow cancels are in flight
frame="n/a (build/frame-loop not built)"
if [ -x build/frame-loop ] && [ -f examples/frame-loop-bench.sh ]; then
    say "bench: frame-loop host against a 300 ms server..."
    frame=$(sh examples/frame-loop-bench.sh build 2>/dev/null | sed "s/^frame-loop: //" || echo "n/a (frame-loop failed)")
fi

# 6. the fake server's own rate (GET retrieve, wrk), so it is known not to be the bottleneck
say "bench: the fake server alone (wrk)..."
fake_rate=$(wrk -t2 -c64 -d3s -H 'Authorization: Bearer sk-bench' -H 'OpenAI-Beta: assistants=v2' \
    "$url/v1/threads/thread_bench_00001/runs/run_bench_00001_001" 2>/dev/null | awk '/Requests\/sec/ { print $2 }')

# 7-10. against nginx answering a fixed Run: over TLS with HTTP/2 offered (directly, then through
# the delay relay), over plain HTTP/1.1, and a cold start over TLS
# versus_curl TAG BASE IDS N [CA_FILE]: one run of the runctl job (streaming), of the
# natural script (task.map keeping every Run), of the same streaming job written with
# task.each (bench/cancel-each.lua), then of curl --parallel, over the same N
# cancels at concurrency 64; appends rates, CPU and connections opened (distinct
# $connection values in nginx's access log) to $dir/TAG.*.
versus_curl() {
    tag=$1 base=$2 ids=$3 n=$4 ca=$5
    curl_tls=""
    [ -z "$ca" ] || curl_tls="--http2 --cacert $ca"
    awk -v base="$base" '{ print "url = \"" base "/threads/" $1 "/runs/" $2 "/cancel\""; print "output = \"/dev/null\"" }' \
        "$ids" > "$dir/$tag.cfg"
    : > "$ng/access.log"
    sh -c "OPENAI_BASE_URL='$base' '$RUNCTL' bench/cancel-many.lua '$ids' 64 $ca > '$dir/out.json'; times" > "$dir/times"
    json_field "$dir/out.json" per_second >> "$dir/$tag.rate.runctl"
    cpu_of "$dir/times" >> "$dir/$tag.cpu.runctl"
    [ "$(json_field "$dir/out.json" failed)" = 0 ] || say "bench: warning: runctl saw failures: $(cat "$dir/out.json")"
    sleep 0.5                   # nginx flushes its access log every 100 ms
    awk '{ print $1 }' "$ng/access.log" | sort -u | wc -l >> "$dir/$tag.conns.runctl"
    OPENAI_BASE_URL=$base "$RUNCTL" bench/cancel-natural.lua "$ids" $ca > "$dir/out.json"
    json_field "$dir/out.json" per_second >> "$dir/$tag.rate.natural"
    OPENAI_BASE_URL=$base "$RUNCTL" bench/cancel-each.lua "$ids" $ca | json_field /dev/stdin per_second >> "$dir/$tag.rate.each"
    sleep 0.5                   # its log lines land before the next count starts
    : > "$ng/access.log"
    t0=$(now_ns)
    sh -c "curl -s --parallel --parallel-max 64 $curl_tls -X POST -H 'Authorization: Bearer sk-bench' \
           -H 'OpenAI-Beta: assistants=v2' -d '' --config '$dir/$tag.cfg' 2>/dev/null; times" > "$dir/times"
    t1=$(now_ns)
    awk -v n="$n" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", n / (ns / 1e9) }' >> "$dir/$tag.rate.curl"
    cpu_of "$dir/times" >> "$dir/$tag.cpu.curl"
    sleep 0.5
    awk '{ print $1 }' "$ng/access.log" | sort -u | wc -l >> "$dir/$tag.conns.curl"
}
# node_peer TAG BASE IDS CA_FILE: the same cancels with the official Node SDK (bench/node-sdk),
# appended to $dir/TAG.*.node, when Node.js and the SDK are there.
node_peer() {
    [ -d bench/node-sdk/node_modules/openai ] || return 0
    : > "$ng/access.log"
    sh -c "OPENAI_BASE_URL='$2' NODE_EXTRA_CA_CERTS='$4' node bench/node-sdk/cancel-many.mjs '$3' 64 > '$dir/out.json'; times" \
        > "$dir/times"
    json_field "$dir/out.json" per_second >> "$dir/$1.rate.node"
    cpu_of "$dir/times" >> "$dir/$1.cpu.node"
    sleep 0.5
    awk '{ print $1 }' "$ng/access.log" | sort -u | wc -l >> "$dir/$1.conns.node"
}
# nginx_line TAG N LABEL: the printed line for one case (rate, CPU per cancel, connections).
nginx_line() {
    r1=$(median < "$dir/$1.rate.runctl") r2=$(median < "$dir/$1.rate.curl")
    c1=$(median < "$dir/$1.cpu.runctl") c2=$(median < "$dir/$1.cpu.curl")
    printf '%s\n   cancels/s                             %-13.0f curl %-8.0f %sx curl --parallel\n' "$3" "$r1" "$r2" "$(ratio "$r1" "$r2")"
    printf '   CPU per cancel, user+sys (us)         %-13.1f curl %-8.1f %sx curl'"'"'s CPU\n' \
        "$(awk -v c="$c1" -v n="$2" 'BEGIN { print c / n * 1e6 }')" "$(awk -v c="$c2" -v n="$2" 'BEGIN { print c / n * 1e6 }')" \
        "$(ratio "$c1" "$c2")"
    r4=$(median < "$dir/$1.rate.natural")
    printf '   natural script (task.map, kept)       %-13.0f curl %-8.0f %sx curl --parallel\n' "$r4" "$r2" "$(ratio "$r4" "$r2")"
    r5=$(median < "$dir/$1.rate.each")
    printf '   streaming with task.each (io.lines)   %-13.0f curl %-8.0f %sx curl --parallel\n' "$r5" "$r2" "$(ratio "$r5" "$r2")"
    printf '   connections opened                    %-13s curl %s\n' \
        "$(median < "$dir/$1.conns.runctl")" "$(median < "$dir/$1.conns.curl")"
    [ -s "$dir/$1.rate.node" ] || return 0
    r3=$(median < "$dir/$1.rate.node") c3=$(median < "$dir/$1.cpu.node")
    printf '   Node SDK: %.0f cancels/s (runctl %sx), %.1f us CPU per cancel (runctl %sx), %s connections\n' \
        "$r3" "$(ratio "$r1" "$r3")" "$(awk -v c="$c3" -v n="$2" 'BEGIN { print c / n * 1e6 }')" "$(ratio "$c1" "$c3")" \
        "$(median < "$dir/$1.conns.node")"
}
TLS_N=${TLS_N:-5000}
nginx_report="7-10. nginx cases: n/a ($(sh tests/tools/nginx-run.sh start "$ng" 2>&1 >/dev/null || true))"
if [ -s "$ng/tls_port" ]; then
    say "bench: against nginx: $TLS_N cancels over TLS + HTTP/2 and 20,000 over plain HTTP, $REPS repetitions..."
    head -n "$TLS_N" "$dir/ids100k" > "$dir/ids_tls"
    tls_base="https://127.0.0.1:$(cat "$ng/tls_port")/v1"
    plain_base="http://127.0.0.1:$(cat "$ng/plain_port")/v1"
    if command -v npm >/dev/null && [ ! -d bench/node-sdk/node_modules/openai ]; then
        say "bench: installing the Node SDK peer (npm ci in bench/node-sdk)..."
        npm ci --prefix bench/node-sdk --no-audit --no-fund >/dev/null 2>&1 || say "bench: no Node SDK peer (npm ci failed)"
    fi
    "$RELAY" "$dir/relay_port" "$(cat "$ng/tls_port")" "$RELAY_MS" &
    relay_pid=$!
    i=0
    while [ ! -s "$dir/relay_port" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
    relay_base="https://127.0.0.1:$(cat "$dir/relay_port")/v1"
    for rep in $(seq "$REPS"); do
        versus_curl tls "$tls_base" "$dir/ids_tls" "$TLS_N" "$ng/cert.pem"
        node_peer tls "$tls_base" "$dir/ids_tls" "$ng/cert.pem"
        versus_curl relay "$relay_base" "$dir/ids_tls" "$TLS_N" "$ng/cert.pem"
        node_peer relay "$relay_base" "$dir/ids_tls" "$ng/cert.pem"
        versus_curl plain "$plain_base" "$dir/ids20k" 20000
    done
    say "bench: cold start over TLS (hyperfine)..."
    cold_tls=$(cold_start tls \
        "$RUNCTL -e assert(runctl.client{base_url=[[$tls_base]],ca_file=[[$ng/cert.pem]]}.runs.cancel([[t]],[[r]]))" \
        "curl -s -o /dev/null --cacert $ng/cert.pem -X POST -H 'Authorization: Bearer sk-bench' $tls_base/threads/t/runs/r/cancel")
    nginx_report="$(nginx_line tls "$TLS_N" "7. nginx over TLS, HTTP/2 offered: $TLS_N cancels at concurrency 64")
$(nginx_line relay "$TLS_N" "8. the same through a relay adding $RELAY_MS ms each way")
$(nginx_line plain 20000 "9. nginx over plain HTTP/1.1: 20,000 cancels at concurrency 64")
10. cold start over TLS, one cancel (ms) $(printf '%-13s' "${cold_tls% *}") curl $(printf '%-8s' "${cold_tls#* }") $(ratio "${cold_tls% *}" "${cold_tls#* }")x curl's time"
fi

cat <<EOF

runctl bench — $(nproc) cores, $(uname -r), medians of $REPS repetitions (cold start: of $REPS rounds of 20 runs)
                                         runctl        peer          ratio
1. cold start, one cancel (ms)           $(printf '%-13s' "$cold_runctl") curl $(printf '%-8s' "$cold_curl") $(ratio "$cold_runctl" "$cold_curl")x curl's time
2. 20,000 cancels, concurrency 64 (/s)   $(printf '%-13.0f' "$rate_runctl") curl $(printf '%-8.0f' "$rate_curl") $(ratio "$rate_runctl" "$rate_curl")x curl --parallel
                                                       wrk  $(printf '%-8.0f' "$rate_wrk") $(ratio "$rate_runctl" "$rate_wrk")x wrk's raw rate (the ceiling)
   the natural script (task.map, keeps   $(printf '%-13.0f' "$rate_natural") curl $(printf '%-8.0f' "$rate_curl") $(ratio "$rate_natural" "$rate_curl")x curl --parallel
   every Run; bench/cancel-natural.lua)  peak RSS $(awk -v k="$rss_natural" -v s="$rss20k" 'BEGIN { printf "%.1f MiB, %.2f KiB per kept Run (%.2f KiB above the streaming job)", k / 1024, k / 20000, (k - s) / 20000 }')
   streaming with task.each over        $(printf '%-13.0f' "$rate_each") curl $(printf '%-8.0f' "$rate_curl") $(ratio "$rate_each" "$rate_curl")x curl --parallel
   io.lines (bench/cancel-each.lua)
3. peak RSS (MiB) at 2k / 20k / 100k     $(awk -v a="$rss2k" -v b="$rss20k" -v c="$rss100k" 'BEGIN { printf "%.1f / %.1f / %.1f", a/1024, b/1024, c/1024 }')
4. CPU per cancel, user+sys (us)         $(awk -v c="$cpu_runctl" 'BEGIN { printf "%-13.1f", c / 20000 * 1e6 }') curl $(awk -v c="$cpu_curl" 'BEGIN { printf "%-8.1f", c / 20000 * 1e6 }') $(ratio "$cpu_runctl" "$cpu_curl")x curl's CPU
   instructions per cancel (callgrind)   $ir_per_cancel
$ir_natural_line
5. frame-loop worst frame                $frame
6. fake server alone, GET (/s, wrk)      $(printf '%.0f' "$fake_rate")
$nginx_report
EOF
[ ! -x build/frame-loop ] || sh examples/frame-loop-percentiles.sh build   # frame-time p50/p99/max, 100 and 1,000 in flight
# LÖVE (LuaJIT) beside the C frame-loop host: 1,000 cancels in flight at 60 Hz (bench/love-frames.sh)
sh bench/love-frames.sh
sh bench/ratelimit.sh       # 2,000 cancels against a rate-limited fake, each 429 style, vs the Node SDK and curl
