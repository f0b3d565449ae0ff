"""Fit to the board (finn_flow/fit.py; ``build(target_fps="max")``, ``abc-build --fit``) on small models with
synthetic budgets: it fits (LUT-limited, and fully unfolded when the budget is ample), it is limited by BRAM, it
does not fit even fully folded; past a plain SetFolding's limits: a BRAM-bound folding moves the smallest MVAU weight
memories to LUTRAM and gets faster within budget, a folding held by ``mvau_wwidth_max`` gets faster with the cap
doubled. One build of an ABC(2, 2) MLP (integer coefficients, bitwise: MVAUs plus the
Elementwise/DuplicateStreams layers FINN counts as 0 LUT) verified on 20 real MNIST images; the other searches
run on that build's specialised graph."""

from __future__ import annotations

import json

import pytest

import finn_flow
from finn.util.basic import getHWCustomOp
from finn_flow.fit import (
    board_budget,
    default_limits,
    estimate_resources,
    layers_capped_by_wwidth,
    search_folding,
    total,
    weight_memory_bits,
)

pytestmark = pytest.mark.finn

PART = "xc7z020clg400-1"  # Pynq-Z1
LUT_LIMITED = {"LUT": 20_000, "BRAM_18K": 80}  # 14,000 LUT / 64 BRAM_18K allowed


@pytest.fixture(scope="module")
def fit_build(tmp_path_factory, mnist_images):
    from tests.finn_flow.abc_models import abc_mlp, swapped

    model = swapped(abc_mlp, coefficient_bits=3)
    return finn_flow.build(model, tmp_path_factory.mktemp("fit") / "build", target_fps="max",
                           fit_capacity=LUT_LIMITED, verify_inputs=mnist_images[0][:20], codegen=False)


@pytest.fixture(scope="module")
def specialised(fit_build):
    from qonnx.core.modelwrapper import ModelWrapper

    return ModelWrapper(str(fit_build.output_dir / "intermediate_models" / "step_specialize_layers.onnx"))


@pytest.mark.slow
def test_fit_build_is_the_fastest_folding_within_budget_and_verified(fit_build):
    fit, allowed = fit_build.fit, board_budget("Pynq-Z1", capacity=LUT_LIMITED).allowed()
    chosen = fit["chosen"]
    assert chosen["fits"] and fit["final"]["overflow"] == {}
    assert all(fit["final"]["resources"][r] <= allowed[r] for r in allowed)
    # the folding FINN built is the chosen one, and every faster folding tried overflowed the LUT budget
    assert fit_build.estimates["estimated_throughput_fps"] == pytest.approx(chosen["fps"])
    faster = [t for t in fit["tried"] if t["fps"] > chosen["fps"]]
    assert faster and all("LUT" in t["overflow"] for t in faster)
    assert chosen["fps"] > min(t["fps"] for t in fit["tried"])  # better than fully folded
    # our estimate for the layers FINN counts as 0 LUT is in the totals
    assert fit["finn_flow_lut_estimates"] and all(v > 0 for v in fit["finn_flow_lut_estimates"].values())
    assert all(row["argmax_agreement"] == 1.0 for row in fit_build.verification)
    summary = (fit_build.output_dir / "report" / "build_summary.md").read_text()
    assert "## Fit to the board" in summary and f"{chosen['fps']:,.1f} FPS" in summary
    assert json.loads((fit_build.output_dir / "report" / "auto_folding_config.json").read_text())
    # every step's wall and CPU seconds (report/step_times.json)
    times = json.loads((fit_build.output_dir / "report" / "step_times.json").read_text())
    assert {"step_qonnx_to_finn", "step_fit_folding_to_board", "step_streamline", "total"} <= set(times)
    assert times["total"]["cpu_s"] == pytest.approx(sum(v["cpu_s"] for k, v in times.items() if k != "total"), abs=0.1)


@pytest.mark.slow
def test_ample_budget_unfolds_fully(specialised):
    budget = board_budget("Pynq-Z1", capacity={"LUT": 10**7, "BRAM_18K": 10**5})
    _, chosen, tried = search_folding(specialised, budget, 10.0, PART, mvau_wwidth_bound=36)
    assert chosen.target_cycles == 1 and len(tried) == 2
    assert chosen.fps == max(t.fps for t in tried)


@pytest.mark.slow
def test_search_limited_by_bram(specialised):
    budget = board_budget("Pynq-Z1", capacity={"LUT": 10**7, "BRAM_18K": 36})  # 28.8 BRAM_18K allowed
    model, chosen, tried = search_folding(specialised, budget, 10.0, PART, lutram=False)
    assert chosen.fits and chosen.resources["BRAM_18K"] <= 28.8
    faster = [t for t in tried if t.fps > chosen.fps]
    assert faster and all(set(t.overflow) == {"BRAM_18K"} for t in faster)
    assert total(estimate_resources(model, PART)) == chosen.resources  # the returned model is the chosen folding


def _ram_styles(model) -> dict:
    return {n.name: getHWCustomOp(n).get_nodeattr("ram_style") for n in model.graph.node if n.op_type == "MVAU_hls"}


@pytest.mark.slow
def test_bram_bound_folding_gains_fps_by_moving_smallest_weights_to_lutram(specialised):
    budget = board_budget("Pynq-Z1", capacity={"LUT": 10**7, "BRAM_18K": 36})  # 28.8 BRAM_18K allowed
    _, plain, _ = search_folding(specialised, budget, 10.0, PART, lutram=False, mvau_wwidth_bound=36)
    model, chosen, tried = search_folding(specialised, budget, 10.0, PART, mvau_wwidth_bound=36)
    assert chosen.fits and chosen.fps > plain.fps and chosen.lutram_layers
    assert all(chosen.resources[r] <= a for r, a in budget.allowed().items())
    assert total(estimate_resources(model, PART)) == chosen.resources  # the returned model is the chosen folding
    styles = _ram_styles(model)
    assert {n for n, s in styles.items() if s == "distributed"} == set(chosen.lutram_layers)
    # smallest weight memories first: every moved one is no larger than any MVAU still in BRAM
    bits = {n.name: weight_memory_bits(getHWCustomOp(n)) for n in model.graph.node if n.op_type == "MVAU_hls"}
    kept = [bits[n] for n, s in styles.items() if s != "distributed"
            and getHWCustomOp(model.get_node_from_name(n)).bram_estimation(PART) > 0]
    assert not kept or max(bits[n] for n in chosen.lutram_layers) <= min(kept)
    # a LUT budget too small for the moves keeps them undone: the folding is no faster than the plain search's
    tight = board_budget("Pynq-Z1", capacity={"LUT": plain.resources["LUT"] / 0.7 + 1, "BRAM_18K": 36})
    _, held, _ = search_folding(specialised, tight, 10.0, PART, mvau_wwidth_bound=36)
    assert held.fits and held.resources["LUT"] <= tight.allowed()["LUT"]
    assert held.fps < chosen.fps


@pytest.mark.slow
def test_folding_held_by_wwidth_cap_gets_faster_with_a_wider_cap(specialised):
    budget = board_budget("Pynq-Z1", capacity={"LUT": 10**7, "BRAM_18K": 10**5})
    capped_model, capped, _ = search_folding(specialised, budget, 10.0, PART, mvau_wwidth_bound=36)
    assert layers_capped_by_wwidth(capped_model, 36)  # SetFolding stopped SIMD at the 36-bit weight stream
    model, chosen, tried = search_folding(specialised, budget, 10.0, PART)
    assert chosen.fits and chosen.fps > capped.fps and chosen.mvau_wwidth_max > 36
    assert {t.mvau_wwidth_max for t in tried} >= {36, chosen.mvau_wwidth_max}
    simd_w = [getHWCustomOp(n).get_nodeattr("SIMD") * getHWCustomOp(n).get_input_datatype(1).bitwidth()
              for n in model.graph.node if n.op_type.startswith("MVAU")]
    assert max(simd_w) > 36
    with pytest.raises(ValueError, match="mvau_wwidth_bound=20 is below mvau_wwidth_max=36"):
        search_folding(specialised, budget, 10.0, PART, mvau_wwidth_bound=20)


@pytest.mark.slow
def test_model_that_fits_no_folding_names_resource_and_largest_layers(specialised):
    budget = board_budget("Pynq-Z1", capacity={"LUT": 3_000, "BRAM_18K": 8})
    with pytest.raises(finn_flow.BoardBudgetError) as info:
        search_folding(specialised, budget, 10.0, PART)
    message = str(info.value)
    assert "does not fit the board at any of the" in message and "LUT" in message and "BRAM_18K" in message
    assert "largest layers: MVAU_hls_" in message and "2,100 allowed (70 % of 3,000)" in message


def test_board_budget_uses_finn_platform_and_default_limits():
    budget = board_budget("Pynq-Z1")
    assert budget.capacity == {"LUT": 53_200, "BRAM_18K": 280, "URAM": 0, "DSP": 220}
    assert budget.limits == default_limits() == {"LUT": 0.7, "BRAM_18K": 0.8, "URAM": 0.8, "DSP": 0.8}
    assert board_budget("ZCU104", limits={"LUT": 0.5}).allowed()["LUT"] == 115_000
    assert budget.overflow({"LUT": 40_000, "BRAM_18K": 100}) == {"LUT": pytest.approx(40_000 / 37_240)}


@pytest.mark.parametrize("kwargs, match", [
    (dict(limits={"FF": 0.5}), "fit_limits has resource 'FF'"),
    (dict(limits={"LUT": 1.5}), r"fit_limits\['LUT'\]=1.5; allowed: a fraction"),
    (dict(capacity={"BRAM_18K": -1}), r"fit_capacity\['BRAM_18K'\]=-1; allowed: a non-negative count"),
])
def test_board_budget_rejects_bad_limits(kwargs, match):
    with pytest.raises(ValueError, match=match):
        board_budget("Pynq-Z1", **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(target_fps="fastest"), "target_fps must be a positive number, \"max\" or None, got 'fastest'"),
    (dict(target_fps=1000, fit_limits={"LUT": 0.5}), "need target_fps='max'"),
    (dict(target_fps="max", folding_config_file="f.json"), "cannot be combined with folding_config_file"),
    (dict(target_fps="max", fit_limits={"LUT": 0}), r"fit_limits\['LUT'\]=0"),
])
def test_build_rejects_bad_fit_arguments_before_building(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        finn_flow.build(str(tmp_path / "missing.onnx"), tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--fit", "--target-fps", "100"], "--fit searches the FPS itself"),
    (["--fit-limit", "LUT=0.5"], "--fit-limit needs --fit"),
    (["--fit", "--fit-limit", "LUT"], "expected RESOURCE=FRACTION"),
])
def test_cli_fit_usage_errors(tmp_path, capsys, argv, message):
    from finn_flow.cli import main

    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / "m.onnx"), str(tmp_path / "out"), *argv])
    assert info.value.code == 2 and message in capsys.readouterr().err
