"""``abc_mapping="auto"``: per layer the mapping with the fewest estimated LUTs within the BRAM budget
(:mod:`finn_flow.abc_auto`), on real MNIST images; the report and the summary name each layer's choice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import finn_flow
from finn_flow.abc_auto import _choose

from .abc_models import abc_mlp
from .test_build_abc_integer import IMAGES, _assert_exact, _mvaus, abc_model


def test_choose_takes_fewest_luts_then_moves_layers_for_bram():
    estimates = {"a": {"integer": {"LUT": 100, "BRAM_18K": 8}, "fused": {"LUT": 150, "BRAM_18K": 2}},
                 "b": {"integer": {"LUT": 100, "BRAM_18K": 8}, "fused": {"LUT": 400, "BRAM_18K": 2}}}
    choice, why = _choose(estimates, bram_allowed=16)
    assert choice == {"a": "integer", "b": "integer"} and set(why.values()) == {"fewest estimated LUTs"}
    choice, why = _choose(estimates, bram_allowed=10)  # 16 > 10: move the layer that saves BRAM cheapest (a)
    assert choice == {"a": "fused", "b": "integer"} and "less BRAM" in why["a"]


@pytest.mark.finn
@pytest.mark.slow
def test_auto_maps_integer_where_smaller_and_fused_where_integer_cannot(tmp_path, mnist_images):
    from brevitas_abc.core.abc_act_quant import ABCActQuant

    images = mnist_images[0][:IMAGES]
    model = abc_model(abc_mlp, 2, 2)
    quantisers = [m for m in model.modules() if isinstance(m, ABCActQuant)]
    with torch.no_grad():
        quantisers[1].betas.copy_(torch.tensor([-0.5, 0.75]))  # the second layer's betas have both signs
    result = finn_flow.build(model, tmp_path / "auto", abc_mapping="auto", target_fps="max", verify_inputs=images,
                             codegen=False)
    _assert_exact(result, IMAGES)
    report = json.loads((Path(result.output_dir) / "report" / "abc_mapping.json").read_text())
    assert report["mapping"] == "auto"
    rows = list(report["layers"].values())
    for row in rows:  # each layer: the candidate with the fewest estimated LUTs (the BRAM budget is not binding)
        est = row["estimates"]
        assert row["why"] == "fewest estimated LUTs" and row["mapping"] == min(est, key=lambda m: est[m]["LUT"]), row
    # where the coefficients factor, integer is the smallest (one MVAU instead of N or M*N, less weight memory)
    assert [row["mapping"] for row in rows[::2]] == ["integer", "integer"]
    for row in rows[::2]:
        est = row["estimates"]
        assert est["integer"]["LUT"] < min(est["fused"]["LUT"], est["bitwise"]["LUT"]), est
        assert est["integer"]["BRAM_18K"] < min(est["fused"]["BRAM_18K"], est["bitwise"]["BRAM_18K"]), est
    # betas of both signs: no integer candidate, the report says why; fused or bitwise, whichever is smaller
    assert rows[1]["mapping"] in ("fused", "bitwise") and "integer" not in rows[1]["estimates"]
    assert "both signs" in rows[1]["not_candidates"]["integer"]
    assert len(_mvaus(result)) == 1 + (2 if rows[1]["mapping"] == "fused" else 4) + 1
    summary = (Path(result.output_dir) / "report" / "build_summary.md").read_text()
    assert "## ABC mappings (abc_mapping=\"auto\")" in summary
    assert f"| {rows[1]['mapping']} | fewest estimated LUTs |" in summary
