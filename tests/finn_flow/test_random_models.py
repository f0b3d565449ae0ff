"""Random small ABC models, swap -> export -> build with every ABC mapping: every stage exact (issue 14 item 5).

Hypothesis draws the layout (input channels and size; per convolution its width, kernel, stride, padding, whether
BatchNorm comes before or after the ReLU, and a max-pool after it; a dense hidden layer or none), the bases (M, N)
and the coefficient bits. The model is untrained with randomised BatchNorm statistics (so that thresholds are not
trivial), every layer ABC (the last without bias: its output is an integer sum times power-of-two scales); the build
verifies every stage on random uint8 images against PyTorch and must agree bit for bit. The export is the same for
every mapping: the first mapping's build exports the model, the others build its QONNX file, whose outputs must equal
PyTorch's bit for bit (exports cost most of this test, the tiny builds a second each). Bounded to a few examples and
tiny shapes: it costs a few FINN builds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from torch import nn

import finn_flow
from finn_flow.config import ABC_MAPPINGS

from .build_checks import assert_every_stage_exact

pytestmark = [pytest.mark.finn, pytest.mark.slow]

convolution = st.fixed_dictionaries({
    "width": st.sampled_from([2, 4]),
    "kernel": st.sampled_from([1, 3]),
    "stride": st.sampled_from([1, 2]),
    "padding": st.sampled_from([0, 1]),
    "relu_first": st.booleans(),  # Conv -> ReLU -> BatchNorm (as users write it) or Conv -> BatchNorm -> ReLU
    "pool": st.booleans(),
})

layouts = st.fixed_dictionaries({
    "channels": st.sampled_from([1, 3]),
    "size": st.sampled_from([8, 10]),
    "convs": st.lists(convolution, min_size=1, max_size=2),
    "hidden": st.sampled_from([0, 8]),
    "bases": st.sampled_from([(1, 1), (2, 1), (2, 2), (3, 2)]),
    "coefficient_bits": st.sampled_from([2, 3, 4]),
    "seed": st.integers(0, 2**16),
})


def random_model(layout: dict) -> nn.Module:
    """The float model of ``layout`` (feature maps kept at least 1x1)."""
    layers, channels, size = [], layout["channels"], layout["size"]
    for conv in layout["convs"]:
        kernel = min(conv["kernel"], size + 2 * conv["padding"])
        layers.append(nn.Conv2d(channels, conv["width"], kernel, stride=conv["stride"], padding=conv["padding"],
                                bias=False))
        size = (size + 2 * conv["padding"] - kernel) // conv["stride"] + 1
        channels = conv["width"]
        pair = [nn.ReLU(), nn.BatchNorm2d(channels)]
        layers += pair if conv["relu_first"] else pair[::-1]
        if conv["pool"] and size >= 2:
            layers.append(nn.MaxPool2d(2))
            size //= 2
    layers.append(nn.Flatten())
    features = channels * size * size
    if layout["hidden"]:
        layers += [nn.Linear(features, layout["hidden"], bias=False), nn.BatchNorm1d(layout["hidden"]), nn.ReLU()]
        features = layout["hidden"]
    layers.append(nn.Linear(features, 10, bias=False))
    return nn.Sequential(*layers)


def swapped_random_model(layout: dict) -> nn.Module:
    from brevitas_abc import ABCConfig, swap

    torch.manual_seed(layout["seed"])
    model = random_model(layout)
    m, n = layout["bases"]
    swap(model, ABCConfig(num_weight_bases=m, num_act_bases=n, coefficient_bits=layout["coefficient_bits"],
                          keep_first=False, keep_last=False), verbose=False)
    generator = torch.Generator().manual_seed(layout["seed"])
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            k = module.num_features
            module.running_mean.copy_(torch.rand(k, generator=generator) - 0.5)
            module.running_var.copy_(0.5 + torch.rand(k, generator=generator))
    return model.eval()


# no shrinking: each example is a FINN build per mapping; a failure is reported with its whole layout
@settings(max_examples=3, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=list(HealthCheck))
@given(layout=layouts)
def test_random_abc_models_build_exactly_with_every_mapping(tmp_path_factory, layout):
    model = swapped_random_model(layout)
    images = np.random.default_rng(layout["seed"]).integers(
        0, 256, size=(16, layout["channels"], layout["size"], layout["size"]), dtype=np.uint8)
    root = tmp_path_factory.mktemp("random_model")
    first = ABC_MAPPINGS[0]
    for mapping in ABC_MAPPINGS:
        # the export does not depend on the mapping: the first build exports the model and checks the QONNX graph
        # against PyTorch (bit for bit, below); the others build that graph, with its outputs on the same images as
        # their reference, which must be PyTorch's bit for bit (so every stage of theirs is compared with PyTorch)
        source = model if mapping == first else root / first / "input" / "model_qonnx.onnx"
        result = finn_flow.build(source, root / mapping, abc_mapping=mapping, verify_inputs=images, codegen=False,
                                 summary=False)
        reference = np.load(root / mapping / "input" / "verify_expected.npy")
        assert np.array_equal(reference, np.load(root / first / "input" / "verify_expected.npy")), (layout, mapping)
        assert result.float_in_dataflow == [], (layout, mapping)
        # integer sums times power-of-two scales: every stage reproduces PyTorch's outputs bit for bit
        try:
            assert_every_stage_exact(result, len(images), max_abs_diff=0.0)
        except AssertionError as error:
            raise AssertionError(f"{mapping} mapping of {layout}: {error}") from None
