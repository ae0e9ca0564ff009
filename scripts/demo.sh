#!/usr/bin/env bash
# Install ovnlb in .venv and run the walkthrough on the in-memory backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/ovnlb demo "$@"
