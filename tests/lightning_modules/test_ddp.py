"""DDP on CPU: 2 processes (gloo) with batch B each train like 1 process with batch 2B.

Tolerance: every weight within 1e-4 absolute (float32 reductions run in another order across
processes; the binary bases make larger drifts possible, and none is seen at this length)."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.lightning_modules.lightning_test_helpers import write_cifar_batches

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-4


def _run(tmp_path: Path, devices: int, batch_size: int) -> dict:
    out = tmp_path / f"weights_{devices}.pt"
    result = subprocess.run(
        [sys.executable, "-m", "tests.lightning_modules.ddp_worker", "--root", str(tmp_path / "cifar"),
         "--devices", str(devices), "--batch-size", str(batch_size), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return torch.load(out, weights_only=True)


@pytest.mark.slow
def test_two_process_ddp_matches_single_process(tmp_path):
    write_cifar_batches(tmp_path / "cifar", per_batch=16)  # 80 training images: 64 after the 16 held out
    single = _run(tmp_path, devices=1, batch_size=16)
    ddp = _run(tmp_path, devices=2, batch_size=8)
    assert single["global_step"] == ddp["global_step"] == 8  # 2 epochs x 64 / 16
    assert single["state"].keys() == ddp["state"].keys()
    worst = max((single["state"][k].float() - ddp["state"][k].float()).abs().max().item() for k in single["state"])
    assert worst <= TOLERANCE, f"max |DDP - single| = {worst}"
    assert (single["world_size"], ddp["world_size"]) == (1, 2)
    moved = max((single["state"][k].float() - single["initial"][k].float()).abs().max().item() for k in single["state"])
    assert moved > 100 * TOLERANCE  # the weights did train, so the agreement is not trivial
    print(f"max |DDP - single| = {worst:.3g}, max weight change = {moved:.3g}")
