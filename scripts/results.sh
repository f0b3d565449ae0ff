#!/usr/bin/env bash
# docs/RESULTS.md from the benchmarks' JSON under benchmarks/results/ (reused by default).
#   scripts/results.sh                         # report only, from the committed JSON
#   scripts/results.sh --only weight_rmse      # re-run one benchmark (quick budget), then the report
#   scripts/results.sh --rerun --budget full   # re-run every benchmark (hours on a 2-core machine)
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python benchmarks/make_results.py "$@"
