"""``abc-build`` end to end on a tiny QONNX graph, and the markdown + PNG build summary it writes."""

from __future__ import annotations

import numpy as np
import pytest

from finn_flow.cli import main
from tests.console_scripts import run_console_script

from .test_bad_input import _binary_mlp_with

pytestmark = pytest.mark.finn


def test_cli_builds_verifies_and_writes_summary(tmp_path, capsys):
    model = _binary_mlp_with("Identity", tmp_path / "m.onnx")
    images = np.random.default_rng(2).integers(-3, 4, size=(30, 16)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    out = tmp_path / "out"
    code = main([str(model), str(out), "--board", "ZCU104", "--target-fps", "100000", "--verify-npy",
                 str(tmp_path / "images.npy"), "--input-scale", "1", "--input-datatype", "INT3"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "XILINX_VIVADO is not set" in printed and "verified folded: 30 images" in printed
    summary = (out / "report" / "build_summary.md").read_text()
    for needle in ("estimated throughput", "| LUT |", "230400", "| folded | 30 | 100.0 %", "step_synthesize_bitfile"):
        assert needle in summary, needle
    png = out / "report" / "build_summary.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_reports_errors_with_status_1(tmp_path, capsys):
    model = _binary_mlp_with("Identity", tmp_path / "m.onnx")
    assert main([str(model), str(tmp_path / "out"), "--board", "Zybo"]) == 1
    assert "board='Zybo'" in capsys.readouterr().err


def test_console_script_exit_status(tmp_path):
    """``abc-build`` as a subprocess: 0 after a build (estimates only), 1 on a clear error, 2 on bad usage."""
    model = _binary_mlp_with("Identity", tmp_path / "m.onnx")
    built = run_console_script("abc-build", [model, tmp_path / "out", "--no-codegen"], cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    assert (tmp_path / "out" / "report" / "build_summary.md").exists()
    bad_board = run_console_script("abc-build", [model, tmp_path / "out2", "--board", "Zybo"], cwd=tmp_path)
    assert bad_board.returncode == 1 and "board='Zybo'" in bad_board.stderr
    usage = run_console_script("abc-build", [model], cwd=tmp_path)
    assert usage.returncode == 2 and "output_dir" in usage.stderr
