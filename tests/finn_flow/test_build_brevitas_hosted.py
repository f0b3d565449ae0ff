"""A network written with stock Brevitas layers holding ABC quantisers (``QuantConv2d(weight_quant=
ABCWeightPerChannelFloat, input_quant=ABCActPerTensorFloat)``, padded convolutions) builds with finn_flow exactly: the
binary activations are padded with +1 as in ``ABCConv2d`` (``brevitas_abc.quant.binary_padding``), the export keeps
the +1 ``Pad`` and FINN lowers it to ``FMPadding`` plus a border bias; every stage executed on 50 real MNIST test
images and compared with PyTorch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

import finn_flow
from brevitas_abc.nn import ExactBatchNorm2d
from brevitas_abc.quant import ABCActPerTensorFloat, ABCWeightPerChannelFloat

from .abc_models import train_on_mnist
from .build_checks import assert_every_stage_exact

pytestmark = [pytest.mark.finn, pytest.mark.slow]
ABC = dict(weight_quant=ABCWeightPerChannelFloat, weight_num_bases=2, weight_coefficient_bits=3,
           input_quant=ABCActPerTensorFloat, input_num_bases=2, input_coefficient_bits=3, bias=False)


def hosted_padded_cnv() -> nn.Module:
    """28 -> 28 (3x3, pad 1) -> pool 14 -> 14 (3x3, pad 1) -> pool 7 -> 1 (7x7 valid) -> FC, all ABC(2, 2) in
    stock Brevitas layers (3-bit coefficients: integer branch sums for FINN)."""
    return nn.Sequential(
        QuantConv2d(1, 4, 3, padding=1, **ABC), ExactBatchNorm2d(4), nn.MaxPool2d(2),
        QuantConv2d(4, 8, 3, padding=1, **ABC), ExactBatchNorm2d(8), nn.MaxPool2d(2),
        QuantConv2d(8, 8, 7, **ABC), ExactBatchNorm2d(8), nn.Flatten(), QuantLinear(8, 10, **ABC))


def test_hosted_abc_with_plus_one_padding_builds_integer_only_and_exact(tmp_path, mnist_images):
    model = train_on_mnist(hosted_padded_cnv(), steps=30)
    assert all(layer.input_quant.binary_padding == 1.0 for layer in model if isinstance(layer, QuantConv2d))
    images, _ = mnist_images
    result = finn_flow.build(model, tmp_path / "build", abc_mapping="fused", target_fps=2000,
                             verify_inputs=images[:50], codegen=False)
    assert result.float_in_dataflow == []
    assert_every_stage_exact(result, 50, distinct_outputs=10)
    rewritten = json.loads((Path(result.output_dir) / "report" / "pad_border_bias.json").read_text())
    assert len(rewritten["rewritten_pads"]) == 4  # both padded convs, one +1 Pad per activation base
