#!/usr/bin/env bash
# The test command: the whole suite, slow end-to-end tests included (CI runs exactly this), on SQLite
# and then, for every store-touching folder, on PostgreSQL. With arguments: just pytest with them
# (EARWITNESS_TEST_STORE=postgres for PostgreSQL). For the fast part only: python3 -m pytest -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
# the import layers first (contract in .importlinter; docs/architecture.md explains them)
lint-imports --no-cache
if [ $# -gt 0 ]; then exec python3 -m pytest -q "$@"; fi
# pass 1: everything, on SQLite (the default store)
python3 -m pytest -q
# pass 2: every folder whose tests touch the store, again on PostgreSQL (a throwaway server the
# tests start from Debian's postgresql: tests/postgres.py); tests/concurrency and tests/scaleout
# already run both engines, tests/matchers and tests/fixtures_platform never open the store
# (the fast tests: the slow end-to-end ones exercise crawling, browsers and processes, not the engine,
# and ran in pass 1; this keeps CI well inside its hour)
EARWITNESS_TEST_STORE=postgres python3 -m pytest -q -p no:cacheprovider -m "not slow" \
    tests/store tests/notices tests/webapp tests/daemon tests/elastic tests/crawler tests/live tests/cli tests/faults
