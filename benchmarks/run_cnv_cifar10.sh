#!/usr/bin/env bash
# Train every variant of benchmarks/train_cnv_cifar10.py in turn (float first), each resumable and skipped once
# done; one log per variant in outputs/cnv_cifar10/<variant>.log. Extra arguments go to every command,
# e.g. `bash benchmarks/run_cnv_cifar10.sh --threads 1`. Variants can also run in parallel processes by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p outputs/cnv_cifar10
for variant in ${VARIANTS:-float abc33 w2a2 w1a1 abc11 abc31 abc53 w1a2}; do
  echo "[run_cnv_cifar10] $variant: log in outputs/cnv_cifar10/$variant.log"
  .venv/bin/python benchmarks/train_cnv_cifar10.py --variant "$variant" "$@" >> "outputs/cnv_cifar10/$variant.log" 2>&1
done
