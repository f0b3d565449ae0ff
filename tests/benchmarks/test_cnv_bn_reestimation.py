"""benchmarks/cnv_bn_reestimation.py on a seeded, untrained ABC(1,1) CNV and 200 real CIFAR-10 test images: it refuses
a checkpoint whose JSON records another accuracy, and otherwise writes the JSON with both accuracies."""
import json

import pytest
import torch

from benchmarks import cnv_bn_reestimation as bench
from benchmarks.train_cnv_cifar10 import build

pytestmark = pytest.mark.slow


@pytest.fixture
def trained_folder(tmp_path, monkeypatch):
    work, results = tmp_path / "work", tmp_path / "results"
    (work / "abc11").mkdir(parents=True)
    results.mkdir()
    torch.manual_seed(0)
    model = build("abc11", None).train()
    with torch.no_grad():  # Brevitas's input quantiser creates its scale after collecting statistics in training
        for _ in range(40):
            model(torch.randn(4, 3, 32, 32))
    torch.save(model.state_dict(), work / "abc11" / "final.pt")
    monkeypatch.setitem(bench.RECIPES, "main", (str(work), str(results)))
    return results


def record(results, top1):
    (results / "abc11.json").write_text(json.dumps({"variant": "abc11", "top1": top1, "recipe": {"width": 0.5}}))


ARGS = ["--recipes", "main", "--images", "250", "--test-images", "200"]


def test_refuses_a_checkpoint_its_json_does_not_describe_and_records_both_accuracies(trained_folder, tmp_path, monkeypatch):
    tested = []
    original = bench.test_top1
    monkeypatch.setattr(bench, "test_top1", lambda model, data: tested.append(original(model, data)) or tested[-1])
    record(trained_folder, 101.0)
    with pytest.raises(RuntimeError, match="not the one the JSON describes"):
        bench.main(ARGS + ["--results", str(tmp_path / "out")])
    record(trained_folder, round(tested[0], 2))
    [row] = bench.main(ARGS + ["--results", str(tmp_path / "out")])
    assert row["top1_trained"] == round(tested[0], 2) and row["batchnorms"] == 9
    assert row["top1_bn_reestimated"] == round(tested[-1], 2) and 0 <= row["top1_bn_reestimated"] <= 100
    assert json.loads((tmp_path / "out" / "main_abc11.json").read_text())["calibration_images"] == 250
