"""A Group-Net (layer-wise, K = 2 binary branches per layer) through the FINN flow, on 200 real MNIST images.

Trained with ``branch_scale_bits`` (``brevitas_abc.nn.group_net.integer``), every branch coefficient
``lambda_k alpha_kc`` is a small integer times one scale per output channel: the bitwise mapping gives 2 xnor
MVAUs per layer summed with integer weights, and the scale moves into the next thresholds. With free float
branch scales the sums stay FLOAT32 inside the accelerator, and the build refuses by default.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from torch import nn

import finn_flow
from brevitas_abc import GroupNetConfig, swap

from .test_build_stock import _assert_codegen, _assert_verified

pytestmark = pytest.mark.finn
NUM_BASES = 2


def group_net_mnist(branch_scale_bits: int | None = 2, seed: int = 0) -> nn.Module:
    """A CNV-style float net (valid convs 1-8-16-16, 28 -> 1, then FC), every conv and the FC swapped to
    Group-Net layers. Untrained: BatchNorm statistics, the sign thresholds t (which must be negative after a
    ReLU, or sign(x + t) reads +1 everywhere) and the branch scales lambda are randomised."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 5, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Flatten(), nn.Linear(16, 10, bias=False))
    swap(model, GroupNetConfig(num_bases=NUM_BASES, mode="layer", keep_first=False, keep_last=False,
                               branch_scale_bits=branch_scale_bits), verbose=False)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.rand(module.num_features, generator=generator) - 0.5)
                module.running_var.copy_(0.5 + torch.rand(module.num_features, generator=generator))
            if hasattr(module, "act_threshold"):
                module.act_threshold.copy_(-0.1 - 0.8 * torch.rand(module.act_threshold.shape, generator=generator))
            if hasattr(module, "branch_coefficients"):
                module.scales.copy_(0.5 + torch.rand(module.scales.shape, generator=generator))
    return model.eval()


@pytest.fixture(scope="module")
def group_net_build(tmp_path_factory, mnist_images):
    images, _ = mnist_images
    return finn_flow.build(group_net_mnist(), tmp_path_factory.mktemp("group_net") / "build", board="ZCU104",
                           target_fps=2000, verify_inputs=images)


def _accelerator(result) -> ModelWrapper:
    return ModelWrapper(str(Path(result.output_dir) / "intermediate_models" / "step_generate_estimate_reports.onnx"))


def test_group_net_builds_verified_integer_only_with_codegen(group_net_build):
    assert group_net_build.status == "stopped_before_vivado"
    assert group_net_build.steps_run[-2:] == ["step_hw_codegen", "step_verify_folded"]
    _assert_verified(group_net_build)
    _assert_codegen(group_net_build)
    assert group_net_build.float_in_dataflow == []
    model = _accelerator(group_net_build)
    for node in model.graph.node:
        assert node.domain.startswith("finn.custom_op.fpgadataflow"), node.op_type
        # every layer has an HLS or RTL implementation (the 1x1 flatten before the FC is no Shuffle)
        assert node.op_type.endswith(("_hls", "_rtl")), node.op_type
        for name in list(node.input) + list(node.output):
            assert model.get_tensor_datatype(name) != DataType["FLOAT32"], (node.name, name)
    assert group_net_build.estimates["estimated_throughput_fps"] >= 2000
    report = json.loads((Path(group_net_build.output_dir) / "report" / "abc_mapping.json").read_text())
    assert len(report["integer_branch_sums"]) == 4 and report["float_branch_sums"] == []


def test_each_branch_is_an_xnor_mvau_summed_in_integers(group_net_build):
    model = _accelerator(group_net_build)
    mvaus = [n for n in model.graph.node if n.op_type.startswith("MVAU")]
    assert len(mvaus) == 4 * NUM_BASES
    assert all(getCustomOp(n).get_nodeattr("binaryXnorMode") == 1 for n in mvaus)
    sums = [n for n in model.graph.node if n.op_type.startswith("ElementwiseAdd")]
    assert sums and all(model.get_tensor_datatype(n.output[0]).is_integer() for n in sums)


def test_free_float_branch_scales_are_refused(tmp_path, mnist_images):
    images, _ = mnist_images
    with pytest.raises(finn_flow.FloatInDataflowError, match="FLOAT32 tensors inside the dataflow partition"):
        finn_flow.build(group_net_mnist(branch_scale_bits=None), tmp_path / "float", verify_inputs=images[:5],
                        codegen=False)
    assert not (tmp_path / "float" / "report" / "finn_flow_result.json").exists()
