"""A Brevitas model swapped to ABC builds with finn_flow: brevitas_examples' BNN-PYNQ CNV (QuantConv2d, QuantLinear,
QuantIdentity) with ABC(3, 3) layers at 4-bit coefficients between its stock 1-bit Brevitas layers, trained a few
steps on real CIFAR-10 images, built with the fused mapping to the estimate reports; every stage executed on 20 real
CIFAR-10 test images and compared with PyTorch.

Three layers are swapped here (the 64->64 and 64->128 convs, the first FC) to keep the test near two minutes. The
whole CNV swapped (all 7 layers between the kept first conv and classifier) built the same way, exact at every stage
on the same 20 images, integer-only, estimated 1017 FPS, 116,520 LUT, 1,923 BRAM18, in 688 s on the shared 2-core
machine (``tests.brevitas_abc.test_swap_brevitas.train_swapped("cnv_1w1a")``, then this test's ``finn_flow.build``).
"""

from __future__ import annotations

import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear

import finn_flow
from brevitas_abc import ABCConv2d, ABCLinear
from tests.brevitas_abc.test_swap_brevitas import train_swapped
from tests.conftest import cifar_test_uint8

from .build_checks import assert_every_stage_exact

pytestmark = [pytest.mark.finn, pytest.mark.slow]
SWAPPED = ("conv_features.4", "conv_features.8", "linear_features.0")


def test_swapped_bnn_pynq_cnv_builds_integer_only_and_exact(tmp_path):
    torch.manual_seed(0)
    model, _, _, _ = train_swapped("cnv_1w1a", filter_fn=lambda module, name: name in SWAPPED)
    kinds = {name: type(m) for name, m in model.named_modules()}
    assert [name for name, kind in kinds.items() if kind in (ABCConv2d, ABCLinear)] == list(SWAPPED)
    assert sum(kind in (QuantConv2d, QuantLinear) for kind in kinds.values()) == 6  # stock 1-bit layers around them
    assert sum(kind is QuantIdentity for kind in kinds.values()) == 6  # 8-bit input + 5 in front of stock layers
    images, _ = cifar_test_uint8(2)  # 20 real CIFAR-10 test images (uint8; the model sees pixels / 255)
    result = finn_flow.build(model, tmp_path / "build", abc_mapping="fused", target_fps=1000, verify_inputs=images,
                             codegen=False)
    assert result.float_in_dataflow == []
    assert_every_stage_exact(result, 20)
