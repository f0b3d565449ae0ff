"""An LBC network (LBCNN, ternary anchors) through the FINN flow, verified on 200 real MNIST test images.

Built with ``brevitas_abc.nn.lbc.integer.integer_lbc_block`` (quantised ReLU inside and between the LBC
layers, binary pointwise convs): the anchors become MVAUs with 2-bit ternary weights, the pointwise convs
MVAUs with bipolar weights, every stream inside the accelerator is an unsigned integer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from torch import nn

import finn_flow
from brevitas_abc.nn.lbc.integer import integer_lbc_block

from .test_build_stock import _assert_codegen, _assert_integer_dataflow, _assert_verified

pytestmark = pytest.mark.finn


def lbc_mnist_net(seed: int = 0) -> nn.Module:
    """28x28 -> LBC 1->8 (3x3, padded) -> pool -> LBC 8->16 (3x3) -> pool -> LBC 16->10 (6x6) -> 10 logits.

    Untrained, with BatchNorm statistics randomised so that every threshold is non-trivial."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        integer_lbc_block(1, 8, 3, padding=1, num_anchors=8, seed=seed, pool=True),
        integer_lbc_block(8, 16, 3, padding=0, num_anchors=16, seed=seed + 1, pool=True),
        integer_lbc_block(16, 10, 6, padding=0, num_anchors=16, seed=seed + 2, output_quant=False),
        nn.Flatten())
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
            module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
    return model.eval()


@pytest.fixture(scope="module")
def lbc_build(tmp_path_factory, mnist_images):
    images, _ = mnist_images
    return finn_flow.build(lbc_mnist_net(), tmp_path_factory.mktemp("lbc") / "build", board="Pynq-Z1",
                           target_fps=2000, verify_inputs=images)


def test_lbc_builds_verified_integer_only_with_codegen(lbc_build):
    assert lbc_build.status == "stopped_before_vivado"
    assert lbc_build.steps_run[-2:] == ["step_hw_codegen", "step_verify_folded"]
    _assert_verified(lbc_build)
    _assert_integer_dataflow(lbc_build)
    _assert_codegen(lbc_build)
    assert lbc_build.estimates["estimated_throughput_fps"] >= 2000
    # on the host: the input layout change, the flatten of the final 1x1 map and the output
    # de-quantisation (alpha, bias)
    places = {(row["op_type"], row["place"]) for row in lbc_build.host_nodes}
    assert places == {("Transpose", "before accelerator"), ("Reshape", "after accelerator"),
                      ("Mul", "after accelerator"), ("Add", "after accelerator")}, places


def test_anchors_are_ternary_mvaus_and_pointwise_bipolar(lbc_build):
    model = ModelWrapper(str(Path(lbc_build.output_dir) / "intermediate_models" / "step_hw_codegen.onnx"))
    mvaus = [n for n in model.graph.node if n.op_type.startswith("MVAU")]
    assert len(mvaus) == 6  # anchor conv + pointwise conv per LBC layer
    kinds = []
    for node in mvaus:
        weights = model.get_initializer(node.input[1])
        assert getCustomOp(node).get_nodeattr("weightDataType") in ("INT2", "TERNARY", "BIPOLAR"), node.name
        values = set(np.unique(weights).tolist())
        kinds.append("ternary" if 0.0 in values else "bipolar")
        assert values <= {-1.0, 0.0, 1.0}, (node.name, values)
        assert getCustomOp(node).get_nodeattr("inputDataType").startswith("UINT"), node.name
    # anchors (sparse, density 0.5: zeros present) alternate with the binary pointwise convs
    assert kinds == ["ternary", "bipolar"] * 3, kinds
