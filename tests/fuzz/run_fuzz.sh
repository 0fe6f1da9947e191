#!/bin/sh
# Fuzz one libFuzzer target briefly (the fuzz preset's ctest for each sc_fuzz_target).
# Usage: run_fuzz.sh <fuzzer binary> <corpus dir> [seed dir or file...]
# The corpus dir (under the build tree) is created and seeded by copying the seeds, so libFuzzer
# may add to it without touching the source tree; it persists between runs and keeps growing.
# A dictionary tests/fuzz/<name>.dict is used when present (<name>: the binary's name without
# "fuzz_"). Crash artifacts go to <corpus dir>.artifacts/.
# Environment: SC_FUZZ_SECONDS (default 20) fuzzing time; SC_FUZZ_EXPECT_CRASH=1 inverts the
# verdict (the canary target: passing means the fuzzer found its planted crash).
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 <fuzzer> <corpus dir> [seeds...]" >&2
    exit 2
fi
fuzzer=$1
corpus=$2
shift 2
seconds=${SC_FUZZ_SECONDS:-20}
expect_crash=${SC_FUZZ_EXPECT_CRASH:-0}
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$fuzzer")
name=${name#fuzz_}
artifacts="$corpus.artifacts"

if [ "$expect_crash" = 1 ]; then
    rm -rf "$corpus" # start from nothing each time: the find must not ride on an old corpus
fi
mkdir -p "$corpus" "$artifacts" || exit 2
find "$artifacts" -mindepth 1 -delete # only this run's findings count
for seed in "$@"; do
    if [ ! -e "$seed" ]; then
        echo "run_fuzz: seed path $seed does not exist" >&2
        exit 2
    fi
    if [ -d "$seed" ]; then
        # Flatten: libFuzzer reads only the top level of a corpus dir.
        find "$seed" -type f -exec cp -f {} "$corpus"/ \; || exit 2
    else
        cp -f "$seed" "$corpus"/ || exit 2
    fi
done

set -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/"
if [ -f "$here/$name.dict" ]; then
    set -- "$@" -dict="$here/$name.dict"
fi
echo "run_fuzz: $fuzzer $* $corpus"
"$fuzzer" "$@" "$corpus"
rc=$?
crashes=$(find "$artifacts" -type f | wc -l)

if [ "$expect_crash" = 1 ]; then
    if [ "$rc" -ne 0 ] && [ "$crashes" -gt 0 ]; then
        echo "run_fuzz: PASS: $name crashed as planted (exit $rc); artifact:" \
            "$(find "$artifacts" -type f | head -n 1)"
        exit 0
    fi
    echo "run_fuzz: FAIL: $name should have crashed within ${seconds}s (exit $rc," \
        "$crashes artifacts): fuzzing is not finding anything" >&2
    exit 1
fi
if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    echo "run_fuzz: FAIL: $name exit $rc; reproduce with: $fuzzer <artifact>:" >&2
    find "$artifacts" -type f >&2
    exit 1
fi
echo "run_fuzz: PASS: $name ran ${seconds}s without a crash"
exit 0
