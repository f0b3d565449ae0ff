"""The results report writer (benchmarks/make_results.py) on small synthetic JSON, and the quick path of the
weight-RMSE benchmark on real MNIST."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import make_results  # noqa: E402


def test_ordering_sentence_holds_and_breaks_are_computed():
    held = make_results.ordering_sentence("trend", [("float", 99.0), ("ABC(5,5)", 98.0), ("ABC(1,1)", 97.0)])
    assert "ordering float >= ABC(5,5) >= ABC(1,1): holds" in held
    broken = make_results.ordering_sentence("trend", [("float", 99.0), ("ABC(5,5)", 96.0), ("ABC(1,1)", 97.0)])
    assert "does not hold (ABC(5,5) 96.00 < ABC(1,1) 97.00)" in broken
    lower = make_results.ordering_sentence("rmse", [("M=5", 0.2), ("M=1", 0.5)], higher_is_better=False)
    assert "M=5 <= M=1: holds" in lower
    lower_broken = make_results.ordering_sentence("rmse", [("M=5", 0.6), ("M=1", 0.5)], higher_is_better=False)
    assert "does not hold (M=5 0.60 > M=1 0.50)" in lower_broken
    partial = make_results.ordering_sentence("t", [("a", 2.0), ("b", None), ("c", 1.0)])
    assert "holds" in partial and "missing: b" in partial


def test_pareto_front():
    points = [("a", 100, 80.0), ("b", 200, 79.0), ("c", 300, 85.0), ("d", 50, 60.0)]
    assert make_results.pareto_front(points) == ["d", "a", "c"]


def _write(path: Path, payload) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


def _png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def test_report_from_synthetic_json(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "docs"
    meta = {"command": "python benchmarks/accuracy_sweep.py --dataset mnist --budget quick", "data": "MNIST (real)",
            "epochs": 1, "seed": 0, "arch": "local_lenet5", "train_images": 100}
    rows = [{"variant": "float", "kind": "float", "finn_config": None, "top1": 99.0, "top5": 100.0, "epochs": 1, "wall_s": 1},
            {"variant": "ABC(1,1)", "kind": "abc", "M": 1, "N": 1, "finn_config": "abc11", "top1": 97.0, "top5": 99.0,
             "epochs": 1, "wall_s": 1},
            {"variant": "ABC(3,3)", "kind": "abc", "M": 3, "N": 3, "finn_config": "abc33", "top1": 96.5, "top5": 99.0,
             "epochs": 1, "wall_s": 1},
            {"variant": "Brevitas W1A1", "kind": "brevitas", "finn_config": "w1a1", "top1": 95.0, "top5": 99.0,
             "epochs": 1, "wall_s": 1}]
    _write(results / "accuracy_mnist" / "results.json", {**meta, "rows": rows})
    _png(results / "accuracy_mnist" / "accuracy.png")
    cifar = {**meta, "command": "python benchmarks/accuracy_sweep.py --dataset cifar10", "rows": [
        {**r, "top1": r["top1"] - 40} for r in rows]}
    _write(results / "accuracy_cifar10" / "results.json", cifar)
    finn = [{"config": "w1a1", "mapping": "bitwise", "fps": 1000.0, "lut": 20000.0, "bram36": 10.0, "dsp": 0},
            {"config": "abc11_bitwise", "mapping": "bitwise", "fps": 1000.0, "lut": 30000.0, "bram36": 12.0, "dsp": 0},
            {"config": "abc33_bitwise", "mapping": "bitwise", "fps": 1000.0, "lut": 25000.0, "bram36": 30.0, "dsp": 0},
            {"config": "w2a2", "error": "RuntimeError: no"}]
    _write(results / "finn_cnv_estimates" / "finn_cnv_estimates.json",
           {"command": "python benchmarks/finn_cnv_estimates.py", "data": "CIFAR-10", "epochs": None, "seed": 0,
            "board": "Pynq-Z1", "target_fps": 1000, "rows": finn})

    path = make_results.write_report(results, docs)
    text = path.read_text()
    assert "ordering float >= ABC(3,3) >= ABC(1,1): does not hold (ABC(3,3) 96.50 < ABC(1,1) 97.00)" in text
    assert "**Command:** `python benchmarks/accuracy_sweep.py --dataset mnist --budget quick`" in text
    assert "**seed:** 0" in text and "**epochs:** 1" in text
    # bitwise LUT: abc11 30000 > abc33 25000 breaks "LUT grows with M*N"
    assert "LUT grows with M*N (bitwise mapping): ordering abc11 <= abc33: does not hold (abc11 30,000 > abc33 25,000)" in text
    assert "CIFAR-10 top-1" not in text.split("## FINN estimates of the ABC mappings")[1].split("\n## ")[0]
    # sections without JSON name the command that produces them, no crash
    assert "python benchmarks/weight_rmse.py --budget full --threads 1" in text
    assert "python benchmarks/lbc_group_net_cifar.py --budget full --threads 1" in text
    assert "Could not render" not in text
    assert (docs / "figures" / "accuracy_mnist.png").is_file()
    assert "![MNIST accuracy](figures/accuracy_mnist.png)" in text


def test_weight_rmse_quick_path(tmp_path):
    """The benchmark end to end on 1,000 real MNIST images: error falls from M=1 to M=5, both granularities."""
    import torch

    from benchmarks import weight_rmse

    out = tmp_path / "weight_rmse"
    threads = torch.get_num_threads()
    try:
        weight_rmse.main(["--train-subset", "1000", "--epochs", "1", "--max-bases", "5", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    data = json.loads((out / "results.json").read_text())
    assert data["seed"] == 0 and data["epochs"] == 1 and "weight_rmse.py" in data["command"]
    total = {(r["granularity"], r["M"]): r["relative_rmse"] for r in data["rows"] if r["layer"] == "all"}
    for granularity in ("per_tensor", "per_channel"):
        assert 0 < total[(granularity, 5)] < total[(granularity, 1)] < 1
    assert (out / "weight_rmse.png").is_file()
    text = make_results.section_weight_rmse(tmp_path, tmp_path / "figures")
    assert "M=5 <= M=4 <= M=3 <= M=2 <= M=1" in text
    assert (tmp_path / "figures" / "weight_rmse.png").is_file()


def test_cnv_cifar10_targets_are_computed_with_their_gaps():
    lines = make_results.cnv_targets({"float": 88.0, "w2a2": 84.5, "abc33": 84.0})
    assert lines[0].startswith("ABC(3,3) >= 84.22 %") and "NOT met, 0.22 points short" in lines[0]
    assert "within 3 points" in lines[1] and ": NOT met (gap 4.00 points)" in lines[1]
    assert "> Brevitas W2A2" in lines[2] and "NOT met (-0.50 points)" in lines[2]
    met = make_results.cnv_targets({"float": 86.0, "w2a2": 83.0, "abc33": 85.0})
    assert all(": met" in line for line in met)
    assert "not yet measured" in make_results.cnv_targets({"float": 86.0})[0]


def test_cnv_cifar10_section_lists_finished_and_missing_variants(tmp_path):
    row = {"variant": "float", "top1": 86.5, "top5": 99.1, "epochs": 40, "train_wall_s": 3600.0,
           "train_images": 50000, "test_images": 10000, "seed": 0, "command": "python benchmarks/train_cnv_cifar10.py --variant float",
           "recipe": {"width": 0.5, "batch_size": 128}, "history": [{"epoch": 1, "val_acc1": 70.0}, {"epoch": 3, "val_acc1": 80.0}]}
    _write(tmp_path / "results" / "cnv_cifar10" / "float.json", row)
    text = make_results.section_cnv_cifar10(tmp_path / "results", tmp_path / "figures")
    assert "| float | 86.50 | - |" in text and "Not yet trained: Brevitas W1A1" in text
    assert "not yet measured" in text and (tmp_path / "figures" / "cnv_cifar10.png").is_file()


def test_cnv_cifar10_section_lists_other_recipes_with_their_float_gap(tmp_path):
    results = tmp_path / "results"
    base = {"top5": 99.0, "train_wall_s": 3600.0, "train_images": 50000, "test_images": 10000, "seed": 0,
            "history": []}
    _write(results / "cnv_cifar10" / "float.json", {**base, "variant": "float", "top1": 84.0, "epochs": 40,
                                                    "command": "f", "recipe": {"width": 0.5}})
    _write(results / "cnv_cifar10_lr3e-4" / "abc33.json",
           {**base, "variant": "abc33", "top1": 81.5, "epochs": 30, "command": "python x --lr 3e-4",
            "recipe": {"width": 0.5, "optimizer": "Adam lr 0.0003, cosine to 0 over 30 epochs"}})
    text = make_results.section_cnv_cifar10(results, tmp_path / "figures")
    assert "**Other recipes tried**" in text
    assert "| ABC(3,3) | lr3e-4 | 81.50 | 2.50 | Adam lr 0.0003, cosine to 0 over 30 epochs | 30 |" in text
    assert "Other recipes" not in make_results.section_cnv_cifar10(tmp_path / "empty", tmp_path / "figures")


def test_cnv_cifar10_targets_are_stated_as_trained_and_batchnorm_reestimated_once_every_variant_has_it(tmp_path):
    results = tmp_path / "results"
    base = {"top5": 99.0, "train_wall_s": 3600.0, "train_images": 50000, "test_images": 10000, "seed": 0,
            "history": [], "epochs": 30, "command": "c", "recipe": {"width": 0.5}}
    for variant, top1 in {"float": 84.0, "abc33": 70.0, "w2a2": 81.0}.items():
        _write(results / "cnv_cifar10" / f"{variant}.json", {**base, "variant": variant, "top1": top1})
    for variant, top1 in {"float": 84.0, "abc33": 82.0}.items():
        _write(results / "cnv_bn_reestimation" / f"main_{variant}.json",
               {"recipe": "main", "variant": variant, "top1_trained": 0, "top1_bn_reestimated": top1,
                "calibration_images": 2000, "command": "c"})
    text = make_results.section_cnv_cifar10(results, tmp_path / "figures")
    assert "| ABC(3,3) | 70.00 | 82.00 |" in text and "| Brevitas W2A2 | 81.00 | - |" in text
    assert "(the largest change: float tested at 0.00 % after its last epoch, 84.00 % re-estimated)" in text
    assert "NOT met (-11.00 points)" in text  # W2A2 not re-estimated yet: the trained numbers count
    _write(results / "cnv_bn_reestimation" / "main_w2a2.json",
           {"recipe": "main", "variant": "w2a2", "top1_trained": 0, "top1_bn_reestimated": 81.5,
            "calibration_images": 2000, "command": "c"})
    text = make_results.section_cnv_cifar10(results, tmp_path / "figures")
    assert "Targets as trained" in text and "NOT met (-11.00 points)" in text
    assert "change in points: float +0.00, Brevitas W2A2 +0.50, ABC(3,3) +12.00" in text
    assert "ABC(3,3) > Brevitas W2A2 trained here (81.50 %): met (+0.50 points)." in text
    assert "within 3 points of the float CNV trained here (84.00 %): met (gap 2.00 points)" in text


def _finn_row(variant: str, board: str, top1: float, fps: float, lut: float, fit: dict | None = None,
              exact: bool = True) -> dict:
    return {"variant": variant, "board": board, "top1": top1, "abc_mapping": "auto", "fps": fps,
            "resources": {"LUT": lut, "BRAM_18K": 100.0, "URAM": 0.0, "DSP": 0.0}, "fit": fit,
            "verification": [{"stage": "qonnx", "images": 200, "argmax_agreement": 1.0, "passed": True},
                             {"stage": "streamlined", "images": 200, "argmax_agreement": 1.0 if exact else 0.99,
                              "passed": exact}],
            "all_stages_exact": exact, "build_s": 120.0, "command": "python benchmarks/finn_cnv_cifar10.py"}


def test_fit_limit_names_the_resource_of_the_next_faster_folding():
    fit = {"budget": {"allowed": {"LUT": 37240.0, "BRAM_18K": 224.0}},
           "chosen": {"fps": 2000.0, "fits": True},
           "tried": [{"fps": 100.0, "fits": True, "resources": {}, "overflow": {}},
                     {"fps": 8000.0, "fits": False, "resources": {"LUT": 90000.0, "BRAM_18K": 300.0},
                      "overflow": {"LUT": 1.0, "BRAM_18K": 1.0}},
                     {"fps": 4000.0, "fits": False, "resources": {"LUT": 40000.0, "BRAM_18K": 200.0},
                      "overflow": {"LUT": 1.0}},
                     {"fps": 2000.0, "fits": True, "resources": {}, "overflow": {}}]}
    assert make_results.fit_limit(fit) == "LUT (40,000 > 37,240) at 4,000 FPS"
    capped = {"budget": {"allowed": {}}, "chosen": {"fps": 2657.0, "target_cycles": 1, "max_cycles": 37632},
              "tried": [{"fps": 2657.0, "fits": True}]}
    assert make_results.fit_limit(capped).startswith("FINN's SetFolding, which stops at 37,632 cycles for a target of 1")
    unfolded = {"budget": {"allowed": {}}, "chosen": {"fps": 9000.0}, "tried": [{"fps": 9000.0, "fits": True}]}
    assert make_results.fit_limit(unfolded).startswith("fully unfolded")
    assert make_results.fit_limit(None) == "not recorded"


def test_finn_cnv_cifar10_section_reports_goal_pareto_exactness_and_missing_builds(tmp_path):
    results, figures = tmp_path / "results", tmp_path / "figures"
    fit = {"budget": {"allowed": {"LUT": 37240.0}}, "chosen": {"fps": 2500.0, "fits": True},
           "tried": [{"fps": 5000.0, "fits": False, "resources": {"LUT": 50000.0}, "overflow": {"LUT": 1.0}}]}
    for row in (_finn_row("w1a1", "Pynq-Z1", 80.0, 15000.0, 30000.0),
                _finn_row("abc33", "Pynq-Z1", 85.0, 2500.0, 35000.0, fit=fit),
                _finn_row("w2a2", "Pynq-Z1", 82.0, 9000.0, 40000.0, exact=False)):
        _write(results / "finn_cnv_cifar10" / f"{row['variant']}_{row['board']}.json", row)
    _write(results / "finn_cnv_cifar10" / "abc53_Pynq-Z1.json",
           {"variant": "abc53", "board": "Pynq-Z1", "top1": 81.26, "weights": "final_bn.pt", "status": "failed",
            "error": "VerificationError: verification of stage 'qonnx' failed", "all_stages_exact": False})
    for variant in ("w1a1", "abc33", "w2a2", "abc53"):
        _write(results / "cnv_cifar10" / f"{variant}.json", {"variant": variant})
    text = make_results.section_finn_cnv_cifar10(results, figures)
    assert "- **ABC(5,3) on Pynq-Z1: build failed** (final_bn.pt, top-1 81.26 %): VerificationError: verification " \
           "of stage 'qonnx' failed" in text
    assert "| Pynq-Z1 | ABC(5,3) |" not in text
    assert "Goal ABC(3,3) >= 3,000 FPS on a Pynq-Z1 (finn-examples' CNV-W1A1 rate): NOT met (2,500 FPS; a faster " \
           "folding is stopped by LUT (50,000 > 37,240) at 5,000 FPS)" in text
    # W2A2 has more LUT and less accuracy than ABC(3,3): off the front
    assert "Pareto-optimal on Pynq-Z1 (fewest LUT for their accuracy): Brevitas W1A1, ABC(3,3)." in text
    assert "NO: streamlined 99.0 % (200 images)" in text
    assert "Trained but not yet built: Brevitas W1A1 on ZCU104, Brevitas W2A2 on ZCU104, ABC(3,3) on ZCU104, " \
           "ABC(5,3) on ZCU104" in text
    assert (figures / "finn_cnv_cifar10.png").is_file()


def test_finn_cnv_cifar10_section_without_builds_names_the_command(tmp_path):
    text = make_results.section_finn_cnv_cifar10(tmp_path / "results", tmp_path / "figures")
    assert "python benchmarks/finn_cnv_cifar10.py --boards Pynq-Z1 ZCU104 --images 200" in text


def test_finn_group_lbc_section_lists_builds_joins_and_errors(tmp_path):
    results = tmp_path / "results"
    ok = {"model": "lbc_densenet", "board": "ZCU104", "top1": 18.35, "train_steps": 150, "fps": 10850.7,
          "resources": {"LUT": 30370.0, "BRAM_18K": 86.0, "URAM": 0.0}, "all_stages_exact": True,
          "verification": [{"stage": "qonnx", "images": 200, "passed": True}],
          "hardware_layers": {"MVAU_hls": 21, "StreamingConcat_hls": 6, "DuplicateStreams_hls": 6},
          "data": "CIFAR-10", "recipe": "Adam", "command": "python benchmarks/finn_group_lbc.py"}
    _write(results / "finn_group_lbc" / "lbc_densenet_ZCU104.json", ok)
    _write(results / "finn_group_lbc" / "groupnet_block_k4_U250.json",
           {"model": "groupnet", "mode": "block", "num_bases": 4, "board": "U250", "error": "BoardBudgetError: x",
            "command": "python benchmarks/finn_group_lbc.py --gn-mode block"})
    _write(results / "finn_group_lbc" / "summary.json", [ok])
    text = make_results.section_finn_group_lbc(results, tmp_path / "figures")
    assert ("| LBC DenseNet-BC | ZCU104 | 18.35 (150 steps) | 10,851 | 30,370 | 86 | 0 | 6 DuplicateStreams, "
            "6 StreamingConcat | not recorded | yes (200 images) |") in text
    assert "| Group-Net ResNet-18-CIFAR (block, K=4) | U250 |" in text and "error: BoardBudgetError: x" in text
    assert "`python benchmarks/finn_group_lbc.py --gn-mode block`; `python benchmarks/finn_group_lbc.py`" in text
    assert text.count("| LBC DenseNet-BC |") == 1  # summary.json is not a build


def test_cnv_epoch_speed_paragraph_computes_the_goal(tmp_path):
    assert "not measured yet" in make_results.cnv_epoch_speed(tmp_path)
    _write(tmp_path / "cnv_epoch_speed" / "cnv_epoch_speed.json", {
        "command": "python benchmarks/cnv_epoch_speed.py", "threads": 1, "date": "d", "goal_ratio": 1.3,
        "rows": [{"variant": "float", "median_step_s": 0.17, "epoch_s": 66.2, "ratio_to_float": 1.0},
                 {"variant": "ABC(3,3) compiled", "median_step_s": 0.25, "epoch_s": 97.8, "ratio_to_float": 1.48}]})
    text = make_results.cnv_epoch_speed(tmp_path)
    assert "goal ABC(3,3) <= 1.3x float: NOT met (1.48x)" in text and "| ABC(3,3) compiled | 250 | 98 | 1.48x |" in text


def test_cnv_bn_reestimation_table_shows_change_and_gap(tmp_path):
    assert make_results.cnv_bn_reestimation(tmp_path, 83.7) == ""
    _write(tmp_path / "cnv_bn_reestimation" / "main_abc33.json", {
        "recipe": "main", "variant": "abc33", "top1_trained": 79.95, "top1_bn_reestimated": 80.65,
        "calibration_images": 2000, "command": "python benchmarks/cnv_bn_reestimation.py"})
    text = make_results.cnv_bn_reestimation(tmp_path, 83.7)
    assert "| ABC(3,3) | main | 79.95 | 80.65 | +0.70 | 3.05 |" in text and "2,000 seeded random" in text


def test_tie_lines_report_layer_by_layer_images_and_exact_only_images():
    row = _finn_row("abc53", "ZCU104", 81.26, 10629.0, 139075.0)
    assert make_results.tie_lines([row]) == ""  # nothing needed the tie rules
    row["verification"][0].update(images_checked_layer_by_layer=9, tie_decisions=6)
    row["verification"][1]["images_matching_only_the_exact_graph"] = [48, 49, 57, 71, 164]
    assert make_results.tie_lines([row]) == (
        "- ABC(5,3) on ZCU104: the QONNX graph differs from PyTorch on 9 of 200 images, each passing the "
        "layer-by-layer check (6 tie decisions); on 5 images the integer stages reproduce the QONNX graph computed in "
        "float64 and not PyTorch (near-ties that exact arithmetic decides).\n")


def test_group_net_residual_section_computes_the_cost(tmp_path):
    results = tmp_path / "results"
    _write(results / "group_net_residual_cifar" / "results.json",
           {"num_bases": 2, "width": 8, "epochs": 1, "command": "python benchmarks/group_net_residual_cifar.py",
            "rows": [{"variant": "float residuals", "residual_bits": None, "top1": 21.96, "top5": 76.17,
                      "train_images": 2000, "test_images": 10000, "wall_s": 132.0},
                     {"variant": "INT4 residuals", "residual_bits": 4, "top1": 19.14, "top5": 73.91,
                      "train_images": 2000, "test_images": 10000, "wall_s": 130.0}]})
    text = make_results.section_group_net_residual(results, tmp_path / "figures")
    assert "| INT4 residuals | 19.14 | 73.91 | 2,000 | 10,000 | 130 |" in text
    assert "- INT4 residual streams cost 2.82 points of top-1 at this budget" in text
    assert "python benchmarks/group_net_residual_cifar.py --train-subset" in \
        make_results.section_group_net_residual(tmp_path / "none", tmp_path / "figures")
