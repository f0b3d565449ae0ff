#!/usr/bin/env bash
# Train every variant of benchmarks/train_cnv_cifar10.py in turn (float first), each resumable and skipped once
# done, then re-estimate its BatchNorm statistics (the recipe's last step, benchmarks/cnv_bn_reestimation.py: writes
# final_bn.pt, which benchmarks/finn_cnv_cifar10.py builds); one log per variant in outputs/cnv_cifar10/<variant>.log.
# Extra arguments go to every training command, e.g. `bash benchmarks/run_cnv_cifar10.sh --threads 1` (the
# re-estimation reads the default folders). Variants can also run in parallel processes by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p outputs/cnv_cifar10
for variant in ${VARIANTS:-float abc33 w2a2 w1a1 abc11 abc31 abc53 w1a2}; do
  echo "[run_cnv_cifar10] $variant: log in outputs/cnv_cifar10/$variant.log"
  .venv/bin/python benchmarks/train_cnv_cifar10.py --variant "$variant" "$@" >> "outputs/cnv_cifar10/$variant.log" 2>&1
  .venv/bin/python benchmarks/cnv_bn_reestimation.py --recipes main --variants "$variant" --threads 1 \
    >> "outputs/cnv_cifar10/$variant.log" 2>&1
done
