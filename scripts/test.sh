#!/usr/bin/env bash
# Install everything (Debian OVN packages, .venv) and run lint, type checks and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --with-ovn
export OVNLB_REQUIRE_OVN=1
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
