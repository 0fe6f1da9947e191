#!/bin/bash
# Our flame-graph merge of H hours of profiles (bench_query: 10 pods at 15 s, one level-0 object
# each, corpus Go CPU profiles) against `go tool pprof -proto` merging the very same profiles as
# .pb.gz files, in the same run; prints both and the ratio (issue 6 asks for >= 20x).
#
#   bench/query_vs_pprof.sh [build dir (default build/release)] [hours (default 1)]
#
# Needs go (scripts/deps.sh installs golang-go); without it only our side runs.
set -euo pipefail
BUILD=${1:-build/release}
HOURS=${2:-1}
BIN="$BUILD/bench/bench_query"
[ -x "$BIN" ] || { echo "no $BIN: build the bench_query target first" >&2; exit 1; }
WORK=$(mktemp -d /tmp/sc_query_vs_pprof.XXXXXX)
trap 'rm -rf "$WORK"' EXIT INT TERM

"$BIN" --hours "$HOURS" --cold 3 --warm 10 --pprof-dir "$WORK/pprof" | tee "$WORK/ours.txt"
cold_ms=$(awk '$1 == "cold" { for (i = 2; i <= NF; i++) if ($i ~ /^p50_ms=/) { sub(/p50_ms=/, "", $i); print $i } }' "$WORK/ours.txt")
warm_ms=$(awk '$1 == "warm" { for (i = 2; i <= NF; i++) if ($i ~ /^p50_ms=/) { sub(/p50_ms=/, "", $i); print $i } }' "$WORK/ours.txt")

if ! command -v go >/dev/null 2>&1; then
    echo "go not installed: go tool pprof side skipped"
    exit 0
fi
n=$(ls "$WORK/pprof" | wc -l)
# One warm-up run over a few files (builds/caches the pprof tool), then the timed merge.
go tool pprof -proto $(ls "$WORK"/pprof/*.pb.gz | head -2) > /dev/null 2>&1 || true
cold_cpu=$(awk '$1 == "cold" { for (i = 2; i <= NF; i++) if ($i ~ /^cpu_ms_p50=/) { sub(/cpu_ms_p50=/, "", $i); print $i } }' "$WORK/ours.txt")
warm_cpu=$(awk '$1 == "warm" { for (i = 2; i <= NF; i++) if ($i ~ /^cpu_ms_p50=/) { sub(/cpu_ms_p50=/, "", $i); print $i } }' "$WORK/ours.txt")
# Wall and CPU (user + system, all threads) of the merge; bash's `time` of a subshell.
TIMEFORMAT="%R %U %S"
# shellcheck disable=SC2046 # one argument per file, by design
{ time go tool pprof -proto $(ls "$WORK"/pprof/*.pb.gz) > "$WORK/merged.pb.gz" 2> "$WORK/pprof.err"; } 2> "$WORK/time.txt" || {
    cat "$WORK/pprof.err" >&2
    exit 1
}
read -r real user sys < "$WORK/time.txt"
go_ms=$(awk -v r="$real" 'BEGIN { printf "%d", r * 1000 }')
go_cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", (u + s) * 1000 }')
echo "go tool pprof -proto: files=$n wall_ms=$go_ms cpu_ms=$go_cpu output_bytes=$(wc -c < "$WORK/merged.pb.gz")"
awk -v g="$go_ms" -v c="$cold_ms" -v w="$warm_ms" -v gc="$go_cpu" -v cc="$cold_cpu" -v wc="$warm_cpu" 'BEGIN {
    printf "ratio go_tool_pprof/scorch, wall: cold %.1fx, warm %.1fx; cpu: cold %.1fx, warm %.1fx\n",
           g / c, g / w, gc / cc, gc / wc
}'
