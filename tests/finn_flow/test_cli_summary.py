"""``abc-build`` end to end on a tiny QONNX graph, and the markdown + PNG build summary it writes."""

from __future__ import annotations

import numpy as np
import pytest

from finn_flow.cli import main

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
