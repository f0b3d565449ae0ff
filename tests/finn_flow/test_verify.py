"""finn_flow/verify.py: the qonnx stage accepts a sign flip only at a proved near-tie; the integer stages' reference
is the exported graph computed in float64."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

import brevitas_abc.export.qonnx_export as qonnx_export
from brevitas_abc import export_qonnx
from brevitas_abc.nn import ABCExportLayer, ABCLinear
from finn_flow.errors import VerificationError
from finn_flow.verify import exact_outputs, verify_qonnx_stage


def _export_with_shift_constant(tmp_path, monkeypatch, layer, image, constant, name):
    """Export ``layer`` with the first activation base's ``Add(v - 0.5)`` constant replaced by ``constant``."""
    real_convert = qonnx_export.convert

    def convert(model):
        converted = real_convert(model)
        [m for m in converted.modules() if isinstance(m, ABCExportLayer)][0].act_branches[0][0].constant.fill_(constant)
        return converted

    monkeypatch.setattr(qonnx_export, "convert", convert)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            export_qonnx(layer, image, tmp_path / name)
            outcome = "; ".join(str(w.message) for w in caught) or "exact"
        except qonnx_export.QONNXMismatchError as error:  # the graph is written before it is checked
            outcome = f"refused: {error}"
    return ModelWrapper(str(tmp_path / name)), outcome


@pytest.fixture
def tie_layer():
    """An ABC layer and two inputs: the first puts its binarizer input exactly at the threshold (x + v - 0.5 = 0)."""
    torch.manual_seed(0)
    layer = ABCLinear(4, 3, num_weight_bases=1, num_act_bases=1, act_shifts=(0.25,)).eval()
    inputs = np.array([[0.25, 0.9, -0.3, 0.6], [0.1, 0.7, 0.8, -0.2]], dtype=np.float32)
    return layer, inputs


def test_a_tie_decision_passes_the_qonnx_stage_and_is_counted(tmp_path, monkeypatch, tie_layer):
    layer, inputs = tie_layer
    # one float32 step below the threshold in the graph, as another summation order would leave it
    below = float(np.nextafter(np.float32(-0.25), np.float32(-1.0)))
    graph, outcome = _export_with_shift_constant(tmp_path, monkeypatch, layer, torch.from_numpy(inputs[:1]), below,
                                                 "tie.onnx")
    assert "1 binarizer decision(s) differently" in outcome
    with torch.no_grad():
        reference = layer(torch.from_numpy(inputs)).numpy()
    row = verify_qonnx_stage(graph, inputs, reference, tmp_path, module=layer)
    assert row["passed"] and row["reference"] == "PyTorch"
    assert row["images_checked_layer_by_layer"] == 1 and row["tie_decisions_per_image"] == {"0": 1}
    assert row["tie_decisions"] == 1 and row["max_abs_diff"] > row["tolerance"]
    assert json.loads((tmp_path / "verification" / "qonnx.json").read_text()) == row
    # without the module the flip cannot be proved a tie: the stage fails, naming the image
    with pytest.raises(VerificationError, match=r"image 0 differs from PyTorch .* does not apply"):
        verify_qonnx_stage(graph, inputs, reference, tmp_path)


def test_a_wrong_shift_fails_the_qonnx_stage(tmp_path, monkeypatch, tie_layer):
    layer, inputs = tie_layer
    graph, outcome = _export_with_shift_constant(tmp_path, monkeypatch, layer, torch.from_numpy(inputs[:1]), -0.45,
                                                 "wrong.onnx")
    assert outcome.startswith("refused")
    with torch.no_grad():
        reference = layer(torch.from_numpy(inputs)).numpy()
    with pytest.raises(VerificationError, match=r"stage 'qonnx'.*image 0: binarizer 0 .* differs from PyTorch's by up to 0.2"):
        verify_qonnx_stage(graph, inputs, reference, tmp_path, module=layer)


def test_the_exact_reference_decides_a_near_tie_as_exact_arithmetic_does(tmp_path):
    """A convolution whose exact sum is 1 but whose float32 sum in the natural order is 0 (1e8 + 1 rounds to 1e8),
    followed by a binarizer: the float64 run gives the exact sign."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.array([1e8, 1.0, -1e8], dtype=np.float32).reshape(1, 3, 1, 1)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["s"]),
         helper.make_node("Add", ["s", "t"], ["u"]),
         helper.make_node("BipolarQuant", ["u", "one"], ["y"], domain="qonnx.custom_op.general")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])],
        initializer=[numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.float32(-0.5), "t"),
                     numpy_helper.from_array(np.float32(1.0), "one")])
    model = ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    ones = np.ones((2, 3, 1, 1), dtype=np.float32)
    assert float(np.float32(np.float32(1e8) + np.float32(1.0)) - np.float32(1e8)) == 0.0  # the float32 order's sum
    np.testing.assert_array_equal(exact_outputs(model, ones), np.ones((2, 1)))  # sign(1 - 0.5) = +1


def _sign_graph():
    """``sign(sum(x) - 0.5)`` of an input ``[1, 3, 1, 1]``: one output, +-1."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["s"]), helper.make_node("Add", ["s", "t"], ["u"]),
         helper.make_node("BipolarQuant", ["u", "one"], ["y"], domain="qonnx.custom_op.general")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 1, 1])],
        initializer=[numpy_helper.from_array(np.ones((1, 3, 1, 1), np.float32), "w"),
                     numpy_helper.from_array(np.float32(-0.5), "t"), numpy_helper.from_array(np.float32(1.0), "one")])
    return ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))


def test_an_integer_stage_passes_an_image_that_either_reference_explains(tmp_path):
    from types import SimpleNamespace

    from finn_flow.verify import verify_stage

    images = np.array([1.0, -1.0, 2.0], dtype=np.float32).reshape(3, 1, 1, 1) * np.ones((1, 3, 1, 1), np.float32)
    produced = np.array([[1.0], [-1.0], [1.0]], dtype=np.float32)  # what the graph computes
    np.save(tmp_path / "pixels.npy", images)
    cfg = SimpleNamespace(output_dir=str(tmp_path), verify_input_npy=str(tmp_path / "pixels.npy"), verify_atol=1e-4,
                          verify_expected_output_npy=str(tmp_path / "float32.npy"),
                          verify_exact_output_npy=str(tmp_path / "exact.npy"))
    # image 0 only the exact graph explains, image 1 only the float32 reference, image 2 both
    np.save(tmp_path / "float32.npy", produced * np.array([[-1.0], [1.0], [1.0]], np.float32))
    np.save(tmp_path / "exact.npy", produced * np.array([[1.0], [-1.0], [1.0]], np.float32))
    row = verify_stage(_sign_graph(), cfg, "streamlined")
    assert row["passed"] and row["images_matching_only_the_exact_graph"] == [0] and row["max_abs_diff"] == 0.0
    # an image neither explains fails the stage
    np.save(tmp_path / "exact.npy", produced * np.array([[1.0], [-1.0], [-1.0]], np.float32))
    np.save(tmp_path / "float32.npy", produced * np.array([[-1.0], [1.0], [-1.0]], np.float32))
    with pytest.raises(VerificationError, match=r"stage 'streamlined' failed on 3 images: max abs diff 2 > tolerance"):
        verify_stage(_sign_graph(), cfg, "streamlined")


def test_a_nan_output_fails_the_qonnx_stage(tmp_path):
    """NaN compares False with everything: it must count as a difference, not slip through as "not above the
    tolerance"."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Div", ["x", "zero"], ["q"]), helper.make_node("Mul", ["q", "zero"], ["y"])],  # 0/0 * 0
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        initializer=[numpy_helper.from_array(np.zeros((1, 2), np.float32), "zero")])
    model = ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    inputs = np.zeros((2, 2), dtype=np.float32)
    with pytest.raises(VerificationError, match=r"image 0 differs from PyTorch \(max abs diff nan"):
        verify_qonnx_stage(model, inputs, np.zeros((2, 2), np.float32), tmp_path)
