"""The bit-for-bit tests (marker ``exact``) re-run under several CPU convolution kernels and thread counts.

A float32 sum's result depends on its order, and oneDNN picks the convolution kernel (hence the order) per CPU
ISA and thread count; integer-valued sums below 2^24 do not (DESIGN 9). Forcing each ISA with
``DNNL_MAX_CPU_ISA`` makes an order-dependent "exact" test fail here rather than on a user's machine with
another CPU (it did: the bias inside ABC's convolution, before it moved out of the kernel).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: (oneDNN ISA cap, threads); SSE41 and AVX2 run on every x86-64 CPU this project targets
SETTINGS = [("SSE41", 1), ("SSE41", 2), ("AVX2", 1), ("AVX2", 2)]


def exact_test_files() -> list[str]:
    """The test files that hold ``@pytest.mark.exact`` tests (this file excluded)."""
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                   if p.name != Path(__file__).name and "pytest.mark.exact" in p.read_text())
    assert files, "no @pytest.mark.exact test found under tests/"
    return files


@pytest.mark.slow
@pytest.mark.parametrize("isa, threads", SETTINGS)
def test_exact_tests_pass_under_cpu_kernel(isa, threads):
    env = {**os.environ, "DNNL_MAX_CPU_ISA": isa, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "exact", "-p", "no:randomly",
                             *exact_test_files()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"DNNL_MAX_CPU_ISA={isa}, {threads} thread(s):\n{result.stdout[-4000:]}"
    assert " passed" in result.stdout and "deselected" in result.stdout
