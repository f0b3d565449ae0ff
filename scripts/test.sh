#!/usr/bin/env bash
# Install (idempotent) and run the whole test suite, FINN flows included. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m "not slow and not finn"` for the quick subset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest "$@"
