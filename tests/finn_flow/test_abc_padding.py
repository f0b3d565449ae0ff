"""ABC convolutions that pad their binary activations with +1 (``binary_padding``, the default) through FINN.

FINN pads with zeros only; ``step_convert_pad_values_to_border_bias`` rewrites ``conv(W, pad_{+1}(A))`` as
``conv(W, pad_0(b)) + E`` (``b`` the binary form of ``A``, ``E`` a constant integer border bias) and moves the
zero padding into the convolution's ``Im2Col``, from which FINN makes ``FMPadding``. Verified on 200 real MNIST
test images with both ABC mappings.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from torch import nn

import finn_flow

from .abc_models import export_with_integer_coefficients, swapped
from .build_checks import assert_every_stage_exact
from .conftest import N_IMAGES
from .test_build_stock import _assert_codegen

pytestmark = pytest.mark.finn


def padded_abc_cnv() -> nn.Module:
    """28 -> 28 (3x3, pad 1) -> pool 14 -> 14 (3x3, pad 1) -> pool 7 -> 1 (7x7 valid) -> FC; every conv and the
    FC ABC (2, 2). The second padding follows a max-pooling (FINN moves it past the thresholds, onto the binary
    map, where the negated-base form would need a min-pool)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 7, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Flatten(), nn.Linear(8, 10, bias=False))


@pytest.fixture(scope="module")
def padded_builds(tmp_path_factory, mnist_images):
    images, _ = mnist_images
    root = tmp_path_factory.mktemp("abc_padding")
    path = export_with_integer_coefficients(swapped(padded_abc_cnv), images[:1].astype("float32") / 255,
                                            root / "model.onnx")
    # fused with HLS/RTL code generation: its integer MVAUs read the {0, 1} activation stream as UINT2
    # (FINN's HLS MVAU rejects 1-bit BINARY inputs with integer weights)
    return path, {mapping: finn_flow.build(path, root / mapping, abc_mapping=mapping, target_fps=2000,
                                           verify_inputs=images, codegen=mapping == "fused")
                  for mapping in ("bitwise", "fused")}


def test_exported_model_pads_with_plus_one(padded_builds):
    path, _ = padded_builds
    model = ModelWrapper(str(path))
    values = {float(model.get_initializer(n.input[2])) for n in model.get_nodes_by_op_type("Pad")}
    assert values == {1.0}  # one Pad per activation base of each padded ABC conv


@pytest.mark.parametrize("mapping", ["bitwise", "fused"])
def test_plus_one_padding_builds_integer_only_and_exact(padded_builds, mapping):
    result = padded_builds[1][mapping]
    # reference: the exported QONNX graph
    assert_every_stage_exact(result, N_IMAGES, distinct_outputs=10)
    assert result.float_in_dataflow == []
    rewritten = json.loads((Path(result.output_dir) / "report" / "pad_border_bias.json").read_text())
    # both padded convs: 2 activation bases each, one Pad per base (bitwise: per base and weight base)
    assert len(rewritten["rewritten_pads"]) == (8 if mapping == "bitwise" else 4)
    model = ModelWrapper(str(Path(result.output_dir) / "intermediate_models"
                             / "step_generate_estimate_reports.onnx"))
    op_types = [n.op_type for n in model.graph.node]
    assert "Pad" not in op_types and sum(op.startswith("FMPadding") for op in op_types) == len(
        rewritten["rewritten_pads"])
    for node in model.graph.node:
        for name in list(node.input) + list(node.output):
            assert model.get_tensor_datatype(name) != DataType["FLOAT32"], (node.name, name)


def test_fused_mapping_generates_code_for_every_layer(padded_builds):
    result = padded_builds[1]["fused"]
    assert result.steps_run[-2:] == ["step_hw_codegen", "step_verify_folded"]
    _assert_codegen(result)
