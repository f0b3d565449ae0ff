"""Bad input gives a clear error naming the value or node, and nothing is reported as a success."""

from __future__ import annotations

import os
import re
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
def test_group_net_float_residual_streams_are_refused_by_name(tmp_path, mode):
    from brevitas_abc import GroupNetConfig, swap
    from brevitas_abc.models.resnet import BasicBlock, ResNet

    model = ResNet(BasicBlock, [2, 1, 1, 1], num_classes=10, cifar_stem=True, width=4)
    model = swap(model, GroupNetConfig(num_bases=2, mode=mode), verbose=False).eval()
    kind = {"block": r"layer1\.0 \(GroupNetBlock", "group": r"layer1 \(GroupNetGroup"}[mode]
    with pytest.raises(finn_flow.UnsupportedOpError,
                       match=kind + r".*residual_bits=None.*residual_bits=2\.\.8.*mode='layer', branch_scale_bits"):
        finn_flow.build(model, tmp_path / "out", example_input=np.zeros((1, 3, 32, 32), np.float32))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("lbc", ["none", "full"])
def test_densenet_with_float_concatenated_streams_is_refused_by_name(tmp_path, lbc):
    from brevitas_abc.models import create_model

    kwargs = {"num_anchors": 4} if lbc == "full" else {}
    model = create_model("densenet_bc_cifar", depth=10, growth_rate=4, lbc=lbc, **kwargs).eval()
    with pytest.raises(finn_flow.UnsupportedOpError,
                       match=r"<model> \(DenseNet, no stream_bits\).*FINN issue 954.*densenet_bc_cifar_integer"):
        finn_flow.build(model, tmp_path / "out", example_input=np.zeros((1, 3, 32, 32), np.float32))
    assert not (tmp_path / "out").exists()


def test_bipolar_quant_right_after_relu_is_refused_by_name(tmp_path):
    # an ABC shift v = 0.5 is sign(x) on the kept ReLU's output (the "centered" preset no longer has one)
    # (v = 0.5 first: export_qonnx's layer-by-layer check pairs binarizers by graph order, and the v = 0.5 base has
    # no Add node, so listed second its BipolarQuant precedes the first base's in the graph and the pairing fails)
    from torch import nn

    from brevitas_abc import ABCConfig, swap

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
                          nn.Linear(8, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4, bias=False))
    model = swap(model, ABCConfig(num_weight_bases=2, num_act_bases=2, act_shifts=(0.5, -0.2)), verbose=False).eval()
    with pytest.raises(finn_flow.UnsupportedOpError, match=r"BipolarQuant_\d+ \(reads Relu"):
        finn_flow.build(model, tmp_path / "out", example_input=np.zeros((1, 16), np.float32), input_scale=None)
    _no_success(tmp_path / "out")


# --- bad input tried systematically (issue 14 item 5): each names the thing, and no build is left behind ---

def _good_graph(tmp_path) -> Path:
    return _binary_mlp_with("Identity", tmp_path / "ok.onnx")


def _nothing_built(out: Path):
    """Refused before anything was written: the folder does not exist (or holds only what it held)."""
    assert not (out / "input").exists() and not (out / "report").exists()


def test_truncated_onnx_file(tmp_path):
    full = _good_graph(tmp_path).read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(full[: len(full) // 2])
    with pytest.raises(finn_flow.InvalidModelError, match=r"cut\.onnx' is not a valid ONNX/QONNX file"):
        finn_flow.build(cut, tmp_path / "out")
    _nothing_built(tmp_path / "out")


@pytest.mark.parametrize("shape, match", [
    ([1, 4, 4], r"graph input 'x' has shape \[1, 4, 4\]; FINN lowers inputs of shape \[1, C\] or \[1, C, H, W\]"),
    ([1, 1, 1, 4, 4], r"shape \[1, 1, 1, 4, 4\]"),
    ([2, 16], r"batch size 2"),
])
def test_onnx_of_the_wrong_input_rank_or_batch(tmp_path, shape, match):
    path = _good_graph(tmp_path)
    model = ModelWrapper(str(path))
    model.set_tensor_shape("x", shape)
    model.save(str(path))
    with pytest.raises(finn_flow.InvalidModelError, match=match):
        finn_flow.build(path, tmp_path / "out", input_scale=None)
    _nothing_built(tmp_path / "out")


@pytest.mark.parametrize("images, match", [
    (np.zeros((4, 15), np.uint8), r"verify_inputs has images of shape \(15,\), the model input is \(1, 16\)"),
    (np.array([["a"] * 16]), r"verify_inputs has dtype <U1"),
    (np.zeros((0, 16), np.uint8), r"verify_inputs has shape \(0, 16\)"),
    (np.zeros(16, np.uint8), r"verify_inputs has shape \(16,\)"),
    (np.where(np.arange(32).reshape(2, 16) == 20, np.nan, 1.0), r"1 NaN or infinite values \(first in image 1\)"),
    (np.full((2, 16), 0.5), r"not UINT8 pixels \(values in \[0.5, 0.5\], not all integers; allowed: integers in "
                            r"\[0, 255\]\)"),
    (np.full((2, 16), 300), r"not UINT8 pixels \(values in \[300, 300\]"),
])
def test_verify_images_of_wrong_shape_dtype_or_values(tmp_path, images, match):
    with pytest.raises(ValueError, match=match):
        finn_flow.build(_good_graph(tmp_path), tmp_path / "out", verify_inputs=images)
    _nothing_built(tmp_path / "out")


def test_verify_images_of_wrong_shape_for_a_torch_model(tmp_path):
    from torch import nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    with pytest.raises(ValueError, match=r"verify_inputs of shape \(1, 8, 8\) per image does not fit the model "
                                         r"\(Sequential fails on it: RuntimeError"):
        finn_flow.build(model, tmp_path / "out", verify_inputs=np.zeros((2, 1, 8, 8), np.uint8))
    _nothing_built(tmp_path / "out")


def test_output_dir_that_is_a_file(tmp_path):
    target = tmp_path / "out"
    target.write_text("my notes")
    with pytest.raises(ValueError, match=r"output_dir='.*out' is an existing file"):
        finn_flow.build(_good_graph(tmp_path), target)
    assert target.read_text() == "my notes"


def test_output_dir_below_a_file_is_not_writable(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match=r"output_dir='.*afile/out' cannot be written: '.*afile' is not a writable"):
        finn_flow.build(_good_graph(tmp_path), tmp_path / "afile" / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_output_dir_in_a_read_only_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ValueError, match=r"cannot be written: '.*locked' is not a writable folder"):
            finn_flow.build(_good_graph(tmp_path), locked / "out")
    finally:
        locked.chmod(0o700)


def test_a_users_non_empty_folder_is_not_replaced(tmp_path):
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "chapter1.tex").write_text("precious")
    with pytest.raises(ValueError, match=r"non-empty folder that is not a finn_flow build \(it holds chapter1\.tex\)"):
        finn_flow.build(_good_graph(tmp_path), target)
    assert (target / "chapter1.tex").read_text() == "precious"


def test_a_failed_build_leaves_a_note_and_no_result(tmp_path):
    # an earlier successful build in the folder must not survive a failed one
    path = _binary_mlp_with("Sin", tmp_path / "sin.onnx")
    out = tmp_path / "out"
    (out / "report").mkdir(parents=True)
    (out / "report" / "finn_flow_result.json").write_text("{}")
    with pytest.raises(finn_flow.UnsupportedOpError):
        finn_flow.build(path, out, input_scale=None)
    _no_success(out)
    assert "UnsupportedOpError: FINN could not lower these nodes" in (out / "BUILD_FAILED.txt").read_text()


def test_corrupt_checkpoint(tmp_path):
    ckpt = tmp_path / "best.ckpt"
    ckpt.write_bytes(b"PK\x03\x04 truncated zip")
    config = Path(__file__).parents[2] / "lightning_modules" / "configs" / "lfc_abc_mnist.yaml"
    with pytest.raises(finn_flow.InvalidModelError, match=r"best\.ckpt' is not a Lightning checkpoint"):
        finn_flow.build(ckpt, tmp_path / "out", config=str(config))
    _nothing_built(tmp_path / "out")


def test_checkpoint_of_another_architecture(tmp_path):
    import torch
    from torch import nn

    other = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    ckpt = tmp_path / "other.ckpt"
    torch.save({"state_dict": {f"model.{k}": v for k, v in other.state_dict().items()}}, ckpt)
    config = Path(__file__).parents[2] / "lightning_modules" / "configs" / "lfc_abc_mnist.yaml"
    with pytest.raises(finn_flow.InvalidModelError, match=r"other\.ckpt' does not fit the model of config="):
        finn_flow.build(ckpt, tmp_path / "out", config=str(config))
    _nothing_built(tmp_path / "out")


@pytest.mark.parametrize("case", ["truncated", "bad_npy"])
def test_abc_build_reports_bad_input_with_status_1(tmp_path, capsys, case):
    from finn_flow.cli import main

    path = _good_graph(tmp_path)
    args = [str(path), str(tmp_path / "out")]
    if case == "truncated":
        path.write_bytes(path.read_bytes()[:40])
        match = "is not a valid ONNX/QONNX file"
    else:
        (tmp_path / "images.npy").write_text("not numpy")
        args += ["--verify-npy", str(tmp_path / "images.npy")]
        match = r"--verify-npy='.*images\.npy' is not a readable \.npy file"
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("abc-build: error: ") and re.search(match, err), err
    _nothing_built(tmp_path / "out")
