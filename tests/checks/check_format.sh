#!/usr/bin/env bash
# clang-format --dry-run -Werror over every tracked C/C++ source (STYLE.md §12).
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null || { echo "clang-format missing"; exit 77; }
mapfile -t files < <(git ls-files '*.c' '*.h' '*.cc' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*')
[ ${#files[@]} -gt 0 ] || { echo "no files"; exit 1; }
clang-format --dry-run -Werror "${files[@]}"
echo "checked ${#files[@]} files"
