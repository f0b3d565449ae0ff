"""The README's main job (scripts/main_job.py) end to end on a small budget: train on real MNIST, export to
QONNX (verified), FINN build to estimates and code for a Pynq-Z1 with every stage verified, then the report."""
import importlib.util
import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.finn]
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "main_job.py"


def _load_main_job():
    spec = importlib.util.spec_from_file_location("main_job", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_main_job_trains_exports_builds_and_reports(tmp_path, capsys):
    main_job = _load_main_job()
    result = main_job.main(["--epochs", "1", "--train-subset", "2000", "--export-images", "32",
                            "--finn-images", "20", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert result["test_top1"] > 50.0  # 2,000 real images, 1 epoch; chance is 10 %
    assert result["deployed_bytes"] < result["float_bytes"] / 5
    finn = result["finn"]
    assert finn["float_in_dataflow"] == [] and finn["fps"] > 0 and finn["lut"] > 0 and finn["bram18"] >= 0
    assert finn["verified"].count("100 %") == 4  # qonnx, streamlined, hw_layers, folded
    assert (Path(finn["output_dir"]) / "report" / "build_summary.md").is_file()
    assert json.loads((tmp_path / "report.json").read_text())["finn"]["lut"] == finn["lut"]
    for needle in ("MNIST test top-1", "model size", "estimated", "LUT", "BRAM18", "files:"):
        assert needle in printed
