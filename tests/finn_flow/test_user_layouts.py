"""Networks as users write them (issue 14 item 4) through the FINN flow, both ABC mappings, exact at every stage.

The layout of a CIFAR-10 CNN from outside this project: unpadded 3x3 convolutions each followed by ReLU and *then*
BatchNorm, max-pooling between them, a dense head. Swapped to ABC with ``coefficient_bits=3`` (every layer but the
float classifier, which runs on the host) and trained briefly on real CIFAR-10 images. FINN's streamlining absorbs
each BatchNorm into the next layer's thresholds but stops at the ReLU before it; ``step_absorb_relus_into_thresholds``
moves the ReLU into the thresholds (exact), so nothing float remains inside the accelerator.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import finn_flow
from tests.conftest import cifar_test_uint8

from .build_checks import assert_every_stage_exact

pytestmark = pytest.mark.finn


def conv_relu_bn_cnn(width: int = 4) -> nn.Module:
    """32x32x3 -> [conv3x3 (no padding) -> ReLU -> BatchNorm] x3 with max-pooling after the 2nd and 3rd
    (32 -> 30 -> 28 -> 14 -> 12 -> 6), then Linear -> ReLU -> BatchNorm1d -> Linear (10 classes)."""
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3), nn.ReLU(), nn.BatchNorm2d(c_out)]

    return nn.Sequential(
        *block(3, width), *block(width, width), nn.MaxPool2d(2), *block(width, 2 * width), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 36, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Linear(16, 10))


def trained_abc(images: np.ndarray, labels: np.ndarray, steps: int = 60) -> nn.Module:
    from brevitas_abc import ABCConfig, swap

    torch.manual_seed(0)
    model = swap(conv_relu_bn_cnn(), ABCConfig(num_weight_bases=2, num_act_bases=2, coefficient_bits=3,
                                               keep_first=False), verbose=False)
    x = torch.from_numpy(images).float() / 255
    y = torch.from_numpy(labels).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def user_layout_builds(tmp_path_factory):
    images, labels = cifar_test_uint8(10)  # 100 real CIFAR-10 test images, 10 per class
    train, verify = np.arange(len(images)) % 5 != 0, np.arange(len(images)) % 5 == 0
    model = trained_abc(images[train], labels[train])
    root = tmp_path_factory.mktemp("user_layout")
    return {mapping: finn_flow.build(model, root / mapping, abc_mapping=mapping, verify_inputs=images[verify],
                                     codegen=False, summary=False)
            for mapping in ("bitwise", "fused")}


@pytest.mark.slow
@pytest.mark.parametrize("mapping", ["bitwise", "fused"])
def test_conv_relu_batchnorm_layout_lowers_exactly(user_layout_builds, mapping):
    result = user_layout_builds[mapping]
    assert result.float_in_dataflow == []
    assert "step_absorb_relus_into_thresholds" in result.steps_run
    assert_every_stage_exact(result, 20, distinct_outputs=10)
    # every lowered stage computes the exported graph's outputs bit for bit (the float classifier on the host
    # differs from PyTorch's by float32 rounding alike at every stage), and the accelerator's integer output is
    # the same before and after folding
    stages = result.output_dir / "verification"
    exported = np.load(stages / "qonnx_outputs.npy")
    for stage in ("streamlined", "hw_layers", "folded"):
        assert np.array_equal(np.load(stages / f"{stage}_outputs.npy"), exported), stage
    # no float ReLU (ElementwiseMaximum) left inside; on the host only the input's NCHW -> NHWC transpose before the
    # accelerator and the float classifier after it
    before = [node["op_type"] for node in result.host_nodes if node["place"] == "before accelerator"]
    assert before == ["Transpose"], result.host_nodes


def test_a_float_first_convolution_is_refused_naming_it_and_the_fix(tmp_path):
    # ABCConfig keeps the first layer float by default; FINN makes its sliding window a hardware layer, so the float
    # convolution would sit inside the accelerator
    from brevitas_abc import ABCConfig, swap

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.ReLU(), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, bias=False),
                          nn.ReLU(), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 10))
    model = swap(model, ABCConfig(num_weight_bases=2, num_act_bases=2, coefficient_bits=3), verbose=False).eval()
    images = np.random.default_rng(0).integers(0, 256, size=(4, 1, 6, 6), dtype=np.uint8)
    with pytest.raises(finn_flow.UnsupportedOpError, match=r"MatMul_0 \(op MatMul, inputs \['UINT8'\]: its weights are "
                                                           r"float: .*set keep_first=False"):
        finn_flow.build(model, tmp_path / "out", verify_inputs=images, codegen=False, summary=False)
    assert not (tmp_path / "out" / "report" / "finn_flow_result.json").exists()


def test_a_float_classifier_right_after_a_convolution_runs_on_the_host(tmp_path):
    # conv (ABC) -> BatchNorm -> ReLU -> flatten of a 2x2 map -> float Linear: the BatchNorm and the NHWC -> NCHW
    # transpose before the flatten are float; they go to the host with the classifier (they used to stay inside the
    # accelerator as float ElementwiseMul/Add and Shuffle layers: "the accelerator's output is not integer")
    from brevitas_abc import ABCConfig, swap

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(16, 10))
    model = swap(model, ABCConfig(num_weight_bases=2, num_act_bases=2, coefficient_bits=3, keep_first=False),
                 verbose=False).eval()
    images = np.random.default_rng(0).integers(0, 256, size=(16, 1, 6, 6), dtype=np.uint8)
    result = finn_flow.build(model, tmp_path / "out", verify_inputs=images, codegen=False, summary=False)
    assert result.float_in_dataflow == []
    assert_every_stage_exact(result, 16)
    after = [node["op_type"] for node in result.host_nodes if node["place"] == "after accelerator"]
    assert "Transpose" in after and after[-2:] == ["MatMul", "Add"], result.host_nodes
