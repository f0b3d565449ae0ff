#!/usr/bin/env bash
# The README's main job: install (idempotent), then train an ABC LeNet-5 on real MNIST, export and verify.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python scripts/main_job.py "$@"
