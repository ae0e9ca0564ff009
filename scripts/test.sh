#!/usr/bin/env bash
# Install everything (Debian OVN packages, .venv) and run lint, type checks and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-ovn --with-octavia
export OVNLB_REQUIRE_OVN=1
# tests/octavia run the real Octavia API from .venv-octavia: never skipped here.
export OVNLB_REQUIRE_OCTAVIA=1
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
# Four workers, one test file each at a time (a file's module fixtures, such as the Octavia
# stack, start once): most tests wait on real servers, so this pays even on two cores.
exec .venv/bin/python -m pytest -q -n 4 --dist loadfile "$@"
