#!/usr/bin/env bash
# End-to-end /ingest throughput of scorch with one engine core (pinned to CPU 0) under wrk (CPU 1):
# POST a gzipped Go pprof from the shared corpus as the raw body of
# /ingest?name=bench&format=pprof&spyName=gospy, 8 connections, ROUNDS rounds of DURATION each,
# for the largest gzipped Go CPU/heap profile and for the one closest to 100 KB gzipped. Prints
# per round profiles/s, MB/s of gzip input and of uncompressed pprof (wall clock, and per second
# of server CPU), and checks through /metrics that scorch_ingest_profiles_total grew by the number
# of requests wrk completed, with no non-2xx answers. Loopback only; about 40 s in all.
#
# Usage: bench/ingest_wrk.sh [BUILD_DIR] [PORT]
#   BUILD_DIR  default build/release (holds net/scorch)
#   PORT       default 38290
# Env: SC_CORPUS_DIR (default ../shared/corpus from the repo root), ROUNDS (3), DURATION (5s),
#      CONNS (256: every answer waits for its durable seal, ~50 ms, so the
#      parse path needs many requests in flight to stay busy).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
PORT=${2:-38290}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-256}
CORPUS=${SC_CORPUS_DIR:-$ROOT/../shared/corpus}
SCORCH=$BUILD/net/scorch
LUA=$ROOT/bench/ingest_post.lua

[[ -x $SCORCH ]] || { echo "ingest_wrk: $SCORCH not built (cmake --build $BUILD)" >&2; exit 2; }
[[ -f $CORPUS/MANIFEST.tsv ]] || { echo "ingest_wrk: no corpus at $CORPUS" >&2; exit 2; }
for tool in wrk taskset curl gunzip; do
    command -v $tool >/dev/null || { echo "ingest_wrk: $tool not installed" >&2; exit 2; }
done
if ss -Htln "sport = :$PORT" | grep -q .; then
    echo "ingest_wrk: port $PORT is in use; pass another PORT" >&2
    exit 2
fi

# Gzipped Go CPU or heap pprof rows of the MANIFEST: "size path", by size.
mapfile -t GO < <(awk -F'\t' '$2 == "pprof" && $5 == "yes" && $3 ~ /^Go/ &&
                              $8 ~ /cpu\/nanoseconds|inuse_space\/bytes/ { print $6, $1 }' \
                      "$CORPUS/MANIFEST.tsv" | sort -n)
((${#GO[@]})) || { echo "ingest_wrk: no gzipped Go CPU/heap pprof in the corpus" >&2; exit 2; }
LARGEST=${GO[-1]#* }
# The one closest to 100 KB (102,400 bytes) gzipped.
NEAR100=$(printf '%s\n' "${GO[@]}" |
    awk '{ d = $1 - 102400; if (d < 0) d = -d; if (best == "" || d < bd) { best = $2; bd = d } }
         END { print best }')
PROFILES=("$LARGEST")
[[ $NEAR100 != "$LARGEST" ]] && PROFILES+=("$NEAR100")

PID=
DIR=
cleanup() {
    if [[ -n $PID ]]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    [[ -n $DIR ]] && rm -rf "$DIR"
}
trap cleanup EXIT

DIR=$(mktemp -d)
taskset -c 0 "$SCORCH" -engine.cores=1 -server.http-listen-address=127.0.0.1 \
    -target=engine -control.api-address= -server.http-listen-port="$PORT" -storage.filesystem.dir="$DIR" \
    -validation.reject-older-than=0 -validation.reject-newer-than=0 \
    -distributor.ingestion-rate-limit-mb=0 >"$DIR.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    kill -0 "$PID" 2>/dev/null || { echo "ingest_wrk: scorch exited:" >&2; cat "$DIR.log" >&2; exit 1; }
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready" && break
    sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready" || { echo "ingest_wrk: not ready" >&2; exit 1; }

URL="http://127.0.0.1:$PORT/ingest?name=bench&format=pprof&spyName=gospy"
HZ=$(getconf CLK_TCK)
profiles_total() {
    curl -sf "http://127.0.0.1:$PORT/metrics" | awk '$1 == "scorch_ingest_profiles_total" { print $2 }'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }

FAIL=0
for prof in "${PROFILES[@]}"; do
    f=$CORPUS/$prof
    gz=$(stat -c %s "$f")
    raw=$(gunzip -c "$f" | wc -c)
    # One request first: a refused profile would make every number below meaningless.
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
        --data-binary "@$f" "$URL")
    [[ $code == 200 ]] || { echo "ingest_wrk: $prof: HTTP $code" >&2; FAIL=1; continue; }
    echo "== $prof: $gz B gzipped, $raw B pprof"
    for r in $(seq "$ROUNDS"); do
        p0=$(profiles_total)
        t0=$(cpu_ticks)
        out=$(PROFILE=$f taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" -s "$LUA" "$URL")
        t1=$(cpu_ticks)
        reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
        secs=$(awk '/requests in/ { sub(/s,$/, "", $4); print $4 }' <<<"$out")
        non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
        sockerr=$(awk '/Socket errors/' <<<"$out")
        # Requests in flight when wrk stopped may still be counted: wait until the counter settles.
        p1=$(profiles_total)
        for _ in $(seq 20); do
            sleep 0.1
            p=$(profiles_total)
            [[ $p == "$p1" ]] && break
            p1=$p
        done
        awk -v q="$reqs" -v s="$secs" -v gz="$gz" -v raw="$raw" -v a="$t0" -v b="$t1" -v hz="$HZ" \
            -v r="$r" 'BEGIN {
                cpu = (b - a) / hz
                printf "round %d: %d req in %.2f s: %.0f profiles/s, %.1f MB/s gzip, %.1f MB/s pprof;", r, q, s, q / s, q * gz / s / 1e6, q * raw / s / 1e6
                printf " server CPU %.0f%%: %.0f profiles/s, %.1f MB/s gzip, %.1f MB/s pprof per CPU-second\n", 100 * cpu / s, q / cpu, q * gz / cpu / 1e6, q * raw / cpu / 1e6
            }'
        delta=$((p1 - p0))
        if [[ -n $non2xx || -n $sockerr ]]; then
            echo "  FAIL: ${non2xx:+non-2xx $non2xx }$sockerr"
            FAIL=1
        fi
        # wrk counts completed requests only; up to CONNS more may have reached scorch at the end.
        if ((delta < reqs || delta > reqs + CONNS)); then
            echo "  FAIL: scorch_ingest_profiles_total grew by $delta, wrk completed $reqs"
            FAIL=1
        else
            echo "  ok: scorch_ingest_profiles_total +$delta (wrk completed $reqs), no non-2xx"
        fi
    done
done
exit $FAIL
