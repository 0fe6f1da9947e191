#!/usr/bin/env bash
# Durable-ack latency of scorch under a steady push load over loopback: scorch on its defaults
# (all cores, -segment.duration default, filesystem store in a fresh directory on the real disk
# under the build directory) and wrk with CONNS connections, each POSTing the gzipped Go CPU
# profile closest to 100 KB of the shared corpus to /ingest as fast as its previous push is
# acknowledged. Every 200 means "the object holding the profile and its metadata record are
# fsynced", so wrk's latency percentiles are ack latencies. Also reports: objects written per
# second (one PUT per segment core per seal) and the stored bytes against the gzipped and the
# uncompressed pprof input (many profiles of one service over time).
#
# CONTROL=1 runs the embedded default instead (scorch starts its single-replica scorch-control on
# PORT+1/PORT+2, Raft data under the same directory, real fsync): every 200 then also means "the
# block is committed in the metastore" (AddBlocks), and AddBlocks calls/s, blocks committed and
# dlq/ fallbacks are printed. Without it the engine runs alone (-target=engine, no control
# client): metadata goes to dlq/ records.
#
# Usage: bench/ack_wrk.sh [BUILD_DIR] [PORT]
# Env: SC_CORPUS_DIR, DURATION (10s), CONNS (16), EXTRA (more scorch flags), ALLOW_429 (set: an
#      overload run where 429 answers are expected, e.g. EXTRA=-segment.memory-limit=2MiB),
#      CONTROL (set: the embedded default with scorch-control).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
PORT=${2:-38291}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
CORPUS=${SC_CORPUS_DIR:-$ROOT/../shared/corpus}
SCORCH=$BUILD/net/scorch
LUA=$ROOT/bench/ingest_post.lua

[[ -x $SCORCH ]] || { echo "ack_wrk: $SCORCH not built" >&2; exit 2; }
[[ -f $CORPUS/MANIFEST.tsv ]] || { echo "ack_wrk: no corpus at $CORPUS" >&2; exit 2; }
for tool in wrk curl gunzip; do
    command -v $tool >/dev/null || { echo "ack_wrk: $tool not installed" >&2; exit 2; }
done
PROF=$(awk -F'\t' '$2 == "pprof" && $5 == "yes" && $3 ~ /^Go/ && $8 ~ /cpu\/nanoseconds/ {
                       d = $6 - 102400; if (d < 0) d = -d; if (best == "" || d < bd) { best = $1; bd = d } }
                   END { print best }' "$CORPUS/MANIFEST.tsv")
F=$CORPUS/$PROF
GZ=$(stat -c %s "$F")
RAW=$(gunzip -c "$F" | wc -c)

PID=
DIR=$(mktemp -d "$(cd "$BUILD" && pwd)/ack-XXXXXX")
cleanup() {
    if [[ -n $PID ]]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT
if [[ -n ${CONTROL:-} ]]; then
    MODE=(-target=all -control.data-dir="$DIR/control" -control.raft-address=127.0.0.1:$((PORT + 1))
          -control.api-address=127.0.0.1:$((PORT + 2)))
else
    MODE=(-target=engine -control.api-address=)
fi
# shellcheck disable=SC2086
"$SCORCH" -server.http-listen-address=127.0.0.1 -server.http-listen-port="$PORT" "${MODE[@]}" \
    -storage.filesystem.dir="$DIR/objects" -validation.reject-older-than=0 \
    -validation.reject-newer-than=0 -distributor.ingestion-rate-limit-mb=0 ${EXTRA:-} \
    >"$DIR/log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/ready" && break
    sleep 0.1
done
URL="http://127.0.0.1:$PORT/ingest?name=bench&format=pprof&spyName=gospy"
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
push() {
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
        --data-binary "@$F" "$URL")
    [[ $code == 200 ]] || { echo "ack_wrk: $PROF: HTTP $code" >&2; cat "$DIR/log" >&2; exit 1; }
}
push
if [[ -n ${CONTROL:-} ]]; then
    # Control starts after the engine and elects itself: wait until pushes are committed.
    for _ in $(seq 100); do
        (($(metric scorch_segment_metastore_commits_total) > 0)) && break
        sleep 0.2
        push
    done
    (($(metric scorch_segment_metastore_commits_total) > 0)) ||
        { echo "ack_wrk: no block committed by scorch-control" >&2; cat "$DIR/log" >&2; exit 1; }
fi
c0=$(metric scorch_segment_metastore_calls_total)
m0=$(metric scorch_segment_metastore_commits_total)
f0=$(metric scorch_segment_dlq_fallbacks_total)
s0=$(metric scorch_segment_seals_total)
b0=$(metric scorch_segment_object_bytes_total)
p0=$(metric scorch_ingest_profiles_total)
echo "== $PROF: $GZ B gzipped, $RAW B pprof; $CONNS connections for $DURATION"
PROFILE=$F wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$LUA" "$URL" >"$DIR/wrk.out" &
WRK=$!
# Peak RSS of scorch while the load runs (sampled every 200 ms).
PEAK=0
while kill -0 "$WRK" 2>/dev/null; do
    r=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
    ((r > PEAK)) && PEAK=$r
    sleep 0.2
done
wait "$WRK"
out=$(cat "$DIR/wrk.out")
sleep 0.5
s1=$(metric scorch_segment_seals_total)
b1=$(metric scorch_segment_object_bytes_total)
p1=$(metric scorch_ingest_profiles_total)
c1=$(metric scorch_segment_metastore_calls_total)
m1=$(metric scorch_segment_metastore_commits_total)
f1=$(metric scorch_segment_dlq_fallbacks_total)
echo "$out" | sed -n '/Latency Distribution/,/99%/p'
echo "$out" | grep -E 'Requests/sec|Non-2xx|Socket errors' || true
echo "peak RSS of scorch under load: $((PEAK / 1024)) MiB; 429 answers: $(metric scorch_segment_refused_full_total)"
awk -v s="$((s1 - s0))" -v b="$((b1 - b0))" -v p="$((p1 - p0))" -v gz="$GZ" -v raw="$RAW" \
    -v d="${DURATION%s}" 'BEGIN {
        printf "profiles %d, seals %d (%.1f objects/s), object bytes %d: %.0f B per profile = %.3f x gzip, %.3f x pprof\n",
            p, s, s / d, b, b / p, b / p / gz, b / p / raw
    }'
if [[ -n ${CONTROL:-} ]]; then
    awk -v c="$((c1 - c0))" -v m="$((m1 - m0))" -v f="$((f1 - f0))" -v d="${DURATION%s}" 'BEGIN {
        printf "AddBlocks: %d calls (%.1f/s), %d blocks committed (%.2f per call), %d dlq/ fallbacks\n",
            c, c / d, m, c ? m / c : 0, f
    }'
fi
if [[ -z ${ALLOW_429:-} ]] && echo "$out" | grep -q 'Non-2xx'; then
    echo "ack_wrk: FAIL: non-2xx answers" >&2
    exit 1
fi
exit 0
