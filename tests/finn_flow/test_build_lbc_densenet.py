"""An integer LBC DenseNet-BC (``brevitas_abc.models.densenet_integer``) through the FINN flow on 20 real CIFAR-10
test images: the dense connections become ``StreamingConcat`` layers joining integer streams, forks
``DuplicateStreams``, the transitions' 1x1 conv + average pooling one strided MVAU, and every stage (QONNX,
streamlined, hardware layers, folded) computes what PyTorch does.

Small nets so that a build takes well under a minute: growth 4, bottleneck 2k, 4 anchors; "full" with two dense
layers per block (depth 16: a concatenated stream forks into the next layer and the next concatenation), "fused"
(half normal, half LBC: two concatenations per layer) with one. Untrained, with BatchNorm statistics from the images
and random quantised-ReLU ranges in [1, 2] (BatchNorm units). Generic ranges, not ranges from statistics of the
images: such a range can put a quantiser's input, an integer grid after the ternary anchors, exactly halfway between
two levels, where Brevitas rounds half to even and FINN's thresholds round up (learned ranges have no such ties).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

import finn_flow
from brevitas.core.scaling.standalone import ParameterFromRuntimeStatsScaling

from brevitas_abc.models import create_model

from tests.brevitas_abc.nn.group_net.test_layers import calibrate

from .build_checks import assert_every_stage_exact
from .test_build_stock import _assert_codegen

pytestmark = [pytest.mark.finn, pytest.mark.slow]
N_IMAGES = 20


def integer_lbc_densenet(lbc: str, depth: int, images: np.ndarray) -> torch.nn.Module:
    torch.manual_seed(0)
    model = create_model("densenet_bc_cifar_integer", depth=depth, growth_rate=4, bn_size=2, num_anchors=4, lbc=lbc)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, ParameterFromRuntimeStatsScaling):  # a quantised ReLU's range: generic, in [1, 2]
                module.init_scale()
                module.value.copy_(1 + torch.rand(module.value.shape, generator=generator))
    return calibrate(model, torch.from_numpy(images).float() / 255)


@pytest.mark.parametrize("lbc, depth, concats", [("full", 16, 6), ("fused", 10, 6)])
def test_integer_lbc_densenet_builds_exactly_with_streaming_concat(tmp_path, cifar_images, lbc, depth, concats):
    images = cifar_images[0][:N_IMAGES]
    result = finn_flow.build(integer_lbc_densenet(lbc, depth, images), tmp_path / lbc, board="ZCU104",
                             target_fps=1000, verify_inputs=images)
    assert result.status == "stopped_before_vivado"
    assert_every_stage_exact(result, N_IMAGES, distinct_outputs=N_IMAGES)  # every image its own output
    assert result.float_in_dataflow == []
    _assert_codegen(result)
    model = ModelWrapper(str(Path(result.output_dir) / "intermediate_models" / "step_generate_estimate_reports.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert sum(op.startswith("StreamingConcat") for op in ops) == concats, ops
    assert any(op.startswith("DuplicateStreams") for op in ops), ops
    assert not any("Pool" in op and "GlobalAccPool" not in op for op in ops), ops  # transitions: strided MVAUs
    for node in model.graph.node:
        assert node.domain.startswith("finn.custom_op.fpgadataflow"), node.op_type
        for name in list(node.input) + list(node.output):
            assert model.get_tensor_datatype(name) != DataType["FLOAT32"], (node.name, name)
    hosts = {row["op_type"] for row in result.host_nodes}
    assert hosts <= {"Transpose", "Mul", "Reshape", "MatMul", "Add"}, hosts  # input layout, pooled scale, classifier
    folded = (Path(result.output_dir) / "report" / "folded_average_pools.json").read_text()
    assert folded.count("AveragePool") == 2, folded  # both transitions
