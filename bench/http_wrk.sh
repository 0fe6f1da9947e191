#!/usr/bin/env bash
# GET /ready keep-alive throughput of scorch (one engine core) against the tiny reference
# responder (bench/ref_httpd.c), both pinned to CPU 0 with wrk on CPU 1; then scorch's idle RSS
# with its default core count. Builds nothing: pass the build directory. Loopback only, about
# 45 s in all. Prints each round, the medians, the ratio scorch/ref and the RSS.
#
# Usage: bench/http_wrk.sh [BUILD_DIR] [BASE_PORT]
#   BUILD_DIR  default build/release (holds net/scorch and bench/ref_httpd)
#   BASE_PORT  default 38180; uses BASE_PORT+1 (scorch), +2 (ref_httpd), +3 (RSS run)
# Env: ROUNDS (3), DURATION (5s), CONNS (16).
set -euo pipefail

BUILD=${1:-build/release}
BASE=${2:-38180}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-16}
SCORCH=$BUILD/net/scorch
REF=$BUILD/bench/ref_httpd
P_SC=$((BASE + 1))
P_REF=$((BASE + 2))
P_RSS=$((BASE + 3))

for bin in "$SCORCH" "$REF"; do
    [[ -x $bin ]] || { echo "http_wrk: $bin not built (cmake --build $BUILD)" >&2; exit 2; }
done
for tool in wrk taskset curl; do
    command -v $tool >/dev/null || { echo "http_wrk: $tool not installed" >&2; exit 2; }
done
for p in $P_SC $P_REF $P_RSS; do
    if ss -Htln "sport = :$p" | grep -q .; then
        echo "http_wrk: port $p is in use; pass another BASE_PORT" >&2
        exit 2
    fi
done

PIDS=()
DIRS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    for d in "${DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

# wait_ready PORT PID: poll /ready for up to 10 s.
wait_ready() {
    local port=$1 pid=$2
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { echo "http_wrk: server on :$port exited" >&2; exit 1; }
        if curl -sf -o /dev/null "http://127.0.0.1:$port/ready"; then return 0; fi
        sleep 0.1
    done
    echo "http_wrk: server on :$port not ready after 10 s" >&2
    exit 1
}

# cpu_ticks PID: utime + stime of the whole process, in clock ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# run_wrk NAME PORT PID: one wrk run; prints a line and sets RPS and US (server CPU µs per
# request, from /proc/PID/stat at 10 ms resolution: the cost when wrk, not the server, limits).
run_wrk() {
    local name=$1 port=$2 pid=$3 out t0 t1
    t0=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$port/ready")
    t1=$(cpu_ticks "$pid")
    RPS=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    local reqs p50 p99 errs
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    local hz secs
    hz=$(getconf CLK_TCK)
    secs=${DURATION%s}
    US=$(awk -v q="$reqs" -v a="$t0" -v b="$t1" -v hz="$hz" \
        'BEGIN { printf "%.3f", (q > 0 ? 1e6 * (b - a) / hz / q : 0) }')
    awk -v n="$name" -v r="$RPS" -v us="$US" -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$secs" \
        -v p50="$p50" -v p99="$p99" 'BEGIN {
            printf "  %-8s %10.0f req/s  p50 %-8s p99 %-8s server CPU %3.0f%%  %.2f us/req\n",
                   n, r, p50, p99, 100 * (b - a) / hz / s, us
        }'
    [[ -z $errs ]] || echo "    $name: $errs"
}

median() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

echo "http_wrk: scorch $SCORCH (1 engine core) and ref_httpd, both on CPU 0; wrk -t1 -c$CONNS" \
     "-d$DURATION on CPU 1; $ROUNDS rounds, alternating"

DIR_SC=$(mktemp -d)
DIRS+=("$DIR_SC")
taskset -c 0 "$SCORCH" -engine.cores=1 -target=engine -control.api-address= -server.http-listen-port="$P_SC" \
    -server.http-listen-address=127.0.0.1 -storage.filesystem.dir="$DIR_SC" -log.level=warn &
PID_SC=$!
PIDS+=("$PID_SC")
taskset -c 0 "$REF" "$P_REF" 0 2>/dev/null &
PID_REF=$!
PIDS+=("$PID_REF")
wait_ready "$P_SC" "$PID_SC"
wait_ready "$P_REF" "$PID_REF"

# Warm both (connection set-up paths, page faults, CPU frequency) outside the measurement.
taskset -c 1 wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$P_SC/ready" >/dev/null
taskset -c 1 wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$P_REF/ready" >/dev/null

SC_RPS=()
REF_RPS=()
SC_US=()
REF_US=()
for r in $(seq "$ROUNDS"); do
    echo "round $r"
    run_wrk scorch "$P_SC" "$PID_SC"
    SC_RPS+=("$RPS")
    SC_US+=("$US")
    run_wrk ref "$P_REF" "$PID_REF"
    REF_RPS+=("$RPS")
    REF_US+=("$US")
done

SC_MED=$(median "${SC_RPS[@]}")
REF_MED=$(median "${REF_RPS[@]}")
awk -v s="$SC_MED" -v r="$REF_MED" 'BEGIN {
    printf "median   scorch %.0f req/s   ref %.0f req/s   ratio scorch/ref %.3f (target >= 0.90)\n",
           s, r, s / r
}'
awk -v s="$(median "${SC_US[@]}")" -v r="$(median "${REF_US[@]}")" 'BEGIN {
    printf "median   server CPU per request: scorch %.2f us   ref %.2f us   ratio ref/scorch %.3f\n",
           s, r, r / s
}'

kill "$PID_SC" "$PID_REF"
wait "$PID_SC" 2>/dev/null || true
wait "$PID_REF" 2>/dev/null || true
PIDS=()

# Idle RSS with the default core count (one per online CPU), after start-up settles.
DIR_RSS=$(mktemp -d)
DIRS+=("$DIR_RSS")
"$SCORCH" -target=engine -control.api-address= -server.http-listen-port="$P_RSS" -server.http-listen-address=127.0.0.1 \
    -storage.filesystem.dir="$DIR_RSS" -log.level=warn &
PID_RSS=$!
PIDS+=("$PID_RSS")
wait_ready "$P_RSS" "$PID_RSS"
sleep 1
RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID_RSS/status")
THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$PID_RSS/status")
awk -v k="$RSS_KB" -v t="$THREADS" -v c="$(nproc)" 'BEGIN {
    printf "idle RSS scorch (default -engine.cores, %d online CPUs, %d threads): %.1f MB (%d kB; target <= 50 MB)\n",
           c, t, k / 1024, k
}'
