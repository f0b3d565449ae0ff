"""The ``integer`` ABC mapping (one multi-level activation and one integer MVAU per layer) through FINN, on real images.

Models: untrained ABC nets with ``coefficient_bits=3`` (so ``alpha_m[c] beta_n = j_m[c] k_n s[c]``), BatchNorm
statistics randomised, betas set to ``(0.5, 0.75)`` (``k = (2, 3)``: every threshold of base 1 counted twice, of base
2 three times, ``K = 5``, a UINT3 activation); every stage must agree with PyTorch bit for bit on real MNIST or
CIFAR-10 test images. Cases: +1-padded convolutions with pooling and a linear head (with code generation), M = 1,
N = 1, a weights-only (N = None) first layer behind an 8-bit input quantiser; refusals for free float coefficients
and for betas of both signs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from torch import nn

import finn_flow
from finn_flow.errors import AbcMappingError

from .abc_models import ACT_SHIFTS, abc_mlp, swapped
from .build_checks import assert_every_stage_exact
from .test_abc_padding import padded_abc_cnv
from .test_build_stock import _assert_codegen, _assert_integer_dataflow

pytestmark = pytest.mark.finn
IMAGES = 40


def abc_model(factory, m: int, n: int, betas=(0.5, 0.75), seed: int = 0, coefficient_bits: int | None = 3):
    """``factory()`` with every layer ABC(m, n) (``coefficient_bits``), BatchNorm statistics randomised and the
    latent betas set to ``betas`` (first ``n`` of them)."""
    from brevitas_abc import ABCConfig, swap
    from brevitas_abc.core.abc_act_quant import ABCActQuant

    torch.manual_seed(seed)
    model = factory()
    swap(model, ABCConfig(num_weight_bases=m, num_act_bases=n, act_shifts=ACT_SHIFTS[n], keep_first=False,
                          keep_last=False, coefficient_bits=coefficient_bits), verbose=False)
    _randomise_batchnorm(model, seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ABCActQuant):
                module.betas.copy_(torch.tensor(betas[:n]))
    return model.eval()


def _randomise_batchnorm(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            k = module.num_features
            module.running_mean.copy_(torch.rand(k, generator=generator) - 0.5)
            module.running_var.copy_(0.5 + torch.rand(k, generator=generator))


def _mapping_report(result) -> dict:
    return json.loads((Path(result.output_dir) / "report" / "abc_mapping.json").read_text())


def _mvaus(result) -> list:
    model = ModelWrapper(str(Path(result.output_dir) / "intermediate_models" / "step_generate_estimate_reports.onnx"))
    return [getCustomOp(node) for node in model.graph.node if node.op_type.startswith("MVAU")]


def _assert_exact(result, images: int) -> None:
    # reference: PyTorch; integer sums times power-of-two scales: bit for bit
    assert_every_stage_exact(result, images, max_abs_diff=0.0, distinct_outputs=images // 4)
    assert result.float_in_dataflow == []


@pytest.mark.slow
def test_integer_mapping_padded_convs_and_linear_one_mvau_per_layer(tmp_path, mnist_images):
    # 2 padded 3x3 convs (+1 padding, max-pooling between), a 7x7 valid conv and the linear head, ABC(2, 2) each
    images = mnist_images[0][:IMAGES]
    model = abc_model(padded_abc_cnv, 2, 2)
    result = finn_flow.build(model, tmp_path / "integer", abc_mapping="integer", target_fps=2000,
                             verify_inputs=images)
    _assert_exact(result, IMAGES)
    _assert_integer_dataflow(result)
    _assert_codegen(result)
    layers = _mapping_report(result)["layers"]
    assert len(layers) == 4
    for row in layers.values():
        assert row["mapping"] == "integer" and sorted(row["k"]) == [2, 3] and row["K"] == 5, row
        assert row["input_datatype"] == "UINT3"
    assert [row["padded"] for row in layers.values()] == [True, True, False, False]
    mvaus = _mvaus(result)
    assert len(mvaus) == 4  # one per ABC layer (fused: 2 per layer, bitwise: 4)
    assert [m.get_nodeattr("inputDataType") for m in mvaus] == ["UINT3"] * 4
    assert not any(m.get_nodeattr("weightDataType") in ("BIPOLAR", "BINARY") for m in mvaus)


@pytest.mark.parametrize("bases", [(1, 2), (2, 1)], ids=["M1", "N1"])
def test_integer_mapping_edge_cases_are_exact(tmp_path, mnist_images, bases):
    images = mnist_images[0][:IMAGES]
    m, n = bases
    model = abc_model(abc_mlp, m, n)
    result = finn_flow.build(model, tmp_path / "integer", abc_mapping="integer", target_fps=2000,
                             verify_inputs=images, codegen=False)
    _assert_exact(result, IMAGES)
    layers = _mapping_report(result)["layers"]
    assert len(layers) == 3
    if n == 1:  # one activation base: the fused layer is already one integer MVAU with a 1-bit input
        assert {row["mapping"] for row in layers.values()} == {"fused"}
        assert all("N = 1" in row["note"] for row in layers.values())
        assert [mv.get_nodeattr("inputDataType") for mv in _mvaus(result)] == ["BIPOLAR"] * 3
    else:  # M = 1: W = j_1 B_1 per channel, two activation bases counted into one UINT3 input
        assert {row["mapping"] for row in layers.values()} == {"integer"}
        assert [mv.get_nodeattr("inputDataType") for mv in _mvaus(result)] == ["UINT3"] * 3
    assert len(_mvaus(result)) == 3


def weights_only_first_layer_cnv() -> nn.Module:
    """8-bit input quantiser, a weights-only ABC(2, None) 3x3 conv on it (the CIFAR CNV's first layer), then an
    ABC(2, 2) conv and linear head; 32 -> 30 -> pool 15 -> 13 -> pool 6 (4 channels each)."""
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat
    from brevitas_abc import ABCConfig, swap
    from brevitas_abc.core.abc_act_quant import ABCActQuant

    from lightning_modules.models.builder import drop_activations_before_binary_inputs

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 6 * 6, 10, bias=False))
    common = dict(keep_first=False, keep_last=False, coefficient_bits=3)
    swap(model, ABCConfig(2, None, **common), filter_fn=lambda mod, name: name == "0", verbose=False)
    swap(model, ABCConfig(2, 2, act_shifts=ACT_SHIFTS[2], **common), filter_fn=lambda mod, name: name != "0",
         verbose=False)
    drop_activations_before_binary_inputs(model)
    _randomise_batchnorm(model, 0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ABCActQuant):
                module.betas.copy_(torch.tensor([0.5, 0.75]))
    model = nn.Sequential(QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False),
                          *model)
    with torch.no_grad():  # calibrate the input quantiser's scale on normalised real images
        from tests.conftest import cifar_normalised

        model.train()
        model[0](cifar_normalised(2))
    return model.eval()


@pytest.mark.parametrize("mapping", ["integer", "auto", "bitwise"])
def test_weights_only_first_layer_behind_8bit_input(tmp_path, cifar_images, mapping):
    # the first layer reads 8-bit integers, not a bipolar activation: no xnor form, one integer MVAU in every mapping
    # (bitwise's per-branch multipliers would absorb the input's float scale: FLOAT32 in the accelerator)
    images = cifar_images[0][::10][:20]  # 20 real CIFAR-10 test images, two per class
    model = weights_only_first_layer_cnv()
    result = finn_flow.build(model, tmp_path / mapping, abc_mapping=mapping, target_fps=2000, verify_inputs=images,
                             preprocessing={"pixel_scale": 1 / 255, "mean": [0.5] * 3, "std": [0.25] * 3},
                             codegen=False, summary=False)
    _assert_exact(result, 20)
    rows = list(_mapping_report(result)["layers"].values())
    assert [row["mapping"] for row in rows] == ["fused", {"bitwise": "bitwise"}.get(mapping, "integer"),
                                                 {"bitwise": "bitwise"}.get(mapping, "integer")]
    if mapping == "integer":
        assert "weights-only" in rows[0]["note"]
    elif mapping == "bitwise":
        assert "no xnor form" in rows[0]["note"]
    else:  # auto: the report says why bitwise was no candidate
        assert set(rows[0]["estimates"]) == {"fused"}, rows[0]
        assert "not a bipolar activation" in rows[0]["not_candidates"]["bitwise"]


def test_integer_mapping_refuses_float_coefficients(tmp_path, mnist_images):
    model = swapped(abc_mlp, seed=1)  # free float alphas and betas
    with pytest.raises(AbcMappingError, match="abc_mapping='integer'.*not integer multiples of one scale"):
        finn_flow.build(model, tmp_path / "float", abc_mapping="integer", verify_inputs=mnist_images[0][:5],
                        codegen=False)
    assert not (tmp_path / "float" / "report" / "finn_flow_result.json").exists()


def test_integer_mapping_refuses_betas_of_both_signs_naming_the_layer(tmp_path, mnist_images):
    model = abc_model(abc_mlp, 2, 2, betas=(-0.5, 0.75))  # k = (-2, 3)
    with pytest.raises(AbcMappingError, match=r"ABC layer \w+: .*betas have both signs \(k = \[(-2, 3|2, -3|3, -2|-3, 2)\]\)"):
        finn_flow.build(model, tmp_path / "mixed", abc_mapping="integer", verify_inputs=mnist_images[0][:5],
                        codegen=False)


@pytest.mark.slow
def test_abc_build_cli_takes_the_new_mappings_and_reports_the_refusal(tmp_path, mnist_images, capsys):
    from brevitas_abc import export_qonnx

    from finn_flow.cli import main

    path = tmp_path / "float.onnx"
    images = mnist_images[0][:1]  # FINN builds batch size 1
    export_qonnx(swapped(abc_mlp, seed=1), torch.from_numpy(images.astype(np.float32) / 255), path)
    assert main([str(path), str(tmp_path / "out"), "--abc-mapping", "integer", "--no-codegen"]) == 1
    assert "abc-build: error: abc_mapping='integer'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main([str(path), str(tmp_path / "out2"), "--abc-mapping", "xnor"])
    assert usage.value.code == 2
    assert "choose from 'bitwise', 'fused', 'integer', 'auto'" in capsys.readouterr().err
