#!/usr/bin/env bash
# The test command: the whole suite, slow end-to-end tests included (CI runs exactly this).
# For the fast part only: python3 -m pytest -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-${TMPDIR:-/tmp}/earwitness-numba-cache}"
# the import layers first (contract in .importlinter; docs/architecture.md explains them)
lint-imports --no-cache
exec python3 -m pytest -q "$@"
