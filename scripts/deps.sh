#!/usr/bin/env bash
# Installs the Debian 12 packages Scorch needs to build, run and test. Idempotent and quiet when
# everything is already there. Runs apt-get as root, or through sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl python3
  clang libclang-rt-14-dev clang-format
  liburing-dev libck-dev libjemalloc-dev libhttp-parser-dev libyaml-dev
  libjansson-dev
  libzstd-dev libxxhash-dev libdeflate-dev libprotobuf-c-dev protobuf-c-compiler
  libraft-dev libuv1-dev
  libcmocka-dev libbenchmark-dev wrk
  libpcre2-dev golang-go protobuf-compiler
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The Node.js SDK integration test needs node and npm (any recent version on PATH will do).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
