#!/usr/bin/env bash
# docs/config.md is generated from the option table: fail when it is stale.
# Regenerate with: build/release/net/scorch -config.markdown > docs/config.md
set -euo pipefail
scorch=$1; doc=$2
if ! diff -u "$doc" <("$scorch" -config.markdown); then
  echo "docs/config.md is stale: run '$scorch -config.markdown > docs/config.md'"
  exit 1
fi
echo "docs/config.md is up to date"
