"""Bad input gives a clear error naming the value or node, and nothing is reported as a success."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

import finn_flow

pytestmark = pytest.mark.finn


def _no_success(out: Path):
    assert not (out / "report" / "finn_flow_result.json").exists()


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_text("this is not a protobuf")
    with pytest.raises(finn_flow.InvalidModelError, match="not a valid ONNX/QONNX file"):
        finn_flow.build(bad, tmp_path / "out")
    _no_success(tmp_path / "out")


def test_missing_file(tmp_path):
    with pytest.raises(finn_flow.InvalidModelError, match="no such file"):
        finn_flow.build(tmp_path / "nope.onnx", tmp_path / "out")


def test_unknown_board_lists_allowed(tmp_path):
    with pytest.raises(finn_flow.UnknownBoardError, match=r"board='Pynq-Z9'.*Pynq-Z1.*U250"):
        finn_flow.build(tmp_path / "nope.onnx", tmp_path / "out", board="Pynq-Z9")


@pytest.mark.parametrize("kwargs, match", [
    (dict(abc_mapping="both"), "abc_mapping='both'"),
    (dict(clock_ns=0), "clock_ns"),
    (dict(target_fps=-3), "target_fps"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        finn_flow.build(tmp_path / "nope.onnx", tmp_path / "out", **kwargs)


def _binary_mlp_with(op_type: str, path: Path) -> Path:
    """x -> BipolarQuant -> MatMul(+-1) -> <op_type> -> BipolarQuant -> MatMul(+-1): a QONNX graph
    whose middle op has no FINN hardware layer."""
    rng = np.random.default_rng(0)
    q = dict(domain="qonnx.custom_op.general")
    nodes = [
        helper.make_node("BipolarQuant", ["x", "one"], ["h0"], **q),
        helper.make_node("BipolarQuant", ["w0", "one"], ["w0q"], **q),
        helper.make_node("MatMul", ["h0", "w0q"], ["a0"]),
        helper.make_node(op_type, ["a0"], ["b0"], name="the_culprit"),
        helper.make_node("BipolarQuant", ["b0", "one"], ["h1"], **q),
        helper.make_node("BipolarQuant", ["w1", "one"], ["w1q"], **q),
        helper.make_node("MatMul", ["h1", "w1q"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("one", np.float32(1.0))
    model.set_initializer("w0", rng.normal(size=(16, 8)).astype(np.float32))
    model.set_initializer("w1", rng.normal(size=(8, 4)).astype(np.float32))
    model.save(str(path))
    return path


def test_op_finn_cannot_lower_is_named(tmp_path):
    path = _binary_mlp_with("Sin", tmp_path / "sin.onnx")
    with pytest.raises(finn_flow.UnsupportedOpError, match=r"Sin_0 \(op Sin"):
        finn_flow.build(path, tmp_path / "out", input_scale=None, input_datatype="UINT8")
    _no_success(tmp_path / "out")


def test_same_graph_without_the_bad_op_builds(tmp_path):
    path = _binary_mlp_with("Identity", tmp_path / "ok.onnx")
    images = np.random.default_rng(1).integers(-3, 4, size=(20, 16)).astype(np.float32)
    result = finn_flow.build(path, tmp_path / "out", input_scale=1.0, input_datatype="INT3",
                             verify_inputs=images, codegen=False)
    assert result.float_in_dataflow == []
    assert all(row["argmax_agreement"] == 1.0 for row in result.verification)


@pytest.mark.parametrize("mode", ["block", "group"])
def test_group_net_block_and_group_modes_are_refused_by_name(tmp_path, mode):
    from brevitas_abc import GroupNetConfig, swap
    from brevitas_abc.models.resnet import BasicBlock, ResNet

    model = ResNet(BasicBlock, [2, 1, 1, 1], num_classes=10, cifar_stem=True, width=4)
    model = swap(model, GroupNetConfig(num_bases=2, mode=mode), verbose=False).eval()
    kind = {"block": r"layer1\.0 \(GroupNetBlock", "group": r"layer1 \(GroupNetGroup"}[mode]
    with pytest.raises(finn_flow.UnsupportedOpError, match=kind + r".*mode='layer', branch_scale_bits"):
        finn_flow.build(model, tmp_path / "out", example_input=np.zeros((1, 3, 32, 32), np.float32))
    assert not (tmp_path / "out").exists()


def test_bipolar_quant_right_after_relu_is_refused_by_name(tmp_path):
    # default ("centered") ABC shifts for N=2 include v = 0.5, i.e. sign(x) on the kept ReLU's output
    from torch import nn

    from brevitas_abc import ABCConfig, swap

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
                          nn.Linear(8, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4, bias=False))
    model = swap(model, ABCConfig(num_weight_bases=2, num_act_bases=2), verbose=False).eval()
    with pytest.raises(finn_flow.UnsupportedOpError, match=r"BipolarQuant_\d+ \(reads Relu"):
        finn_flow.build(model, tmp_path / "out", example_input=np.zeros((1, 16), np.float32), input_scale=None)
    _no_success(tmp_path / "out")
