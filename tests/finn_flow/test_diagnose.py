"""A failure inside a FINN step reaches the user as our error: the step, the node, FINN's message, the likely
cause and the model the step received."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

import finn_flow
from finn_flow.diagnose import describe_step_failure, failing_node


def _mlp_with_thresholds(rows: int, path: Path) -> Path:
    """x -> MatMul(+-1 weights, 8 outputs) -> MultiThreshold(``rows`` x 1 thresholds) -> MatMul(+-1): a QONNX graph
    whose thresholds fit the 8 channels only for rows 1 or 8."""
    rng = np.random.default_rng(0)
    q = dict(domain="qonnx.custom_op.general")
    nodes = [
        helper.make_node("BipolarQuant", ["w0", "one"], ["w0q"], **q),
        helper.make_node("MatMul", ["x", "w0q"], ["a0"]),
        helper.make_node("MultiThreshold", ["a0", "thr"], ["h1"], out_dtype="BIPOLAR", out_scale=2.0, out_bias=-1.0,
                         **q),
        helper.make_node("BipolarQuant", ["w1", "one"], ["w1q"], **q),
        helper.make_node("MatMul", ["h1", "w1q"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("one", np.float32(1.0))
    model.set_initializer("w0", rng.normal(size=(16, 8)).astype(np.float32))
    model.set_initializer("w1", rng.normal(size=(8, 4)).astype(np.float32))
    model.set_initializer("thr", rng.integers(-3, 4, size=(rows, 1)).astype(np.float32))
    model.save(str(path))
    return path


@pytest.mark.finn
def test_finn_assertion_in_a_step_is_translated(tmp_path):
    # 3 threshold rows for 8 channels: FINN's converter asserts deep inside step_convert_to_hw
    path = _mlp_with_thresholds(3, tmp_path / "bad_thresholds.onnx")
    out = tmp_path / "out"
    with pytest.raises(finn_flow.BuildStepError) as caught:
        finn_flow.build(path, out, input_scale=1.0, input_datatype="INT3", codegen=False, summary=False)
    text = str(caught.value)
    assert text.startswith("build step step_convert_to_hw failed at node MatMul_0 (MatMul): FINNUserError: "
                           "MultiThreshold_0: First dimension of thresholds neither 1 nor MH"), text
    assert "The likely cause: thresholds that do not have one row per output channel" in text
    assert f"The model this step received: {out / 'intermediate_models' / 'step_check_padding.onnx'}" in text
    assert (out / "intermediate_models" / "step_check_padding.onnx").is_file()
    assert "BuildStepError: build step step_convert_to_hw failed" in (out / "BUILD_FAILED.txt").read_text()
    assert not (out / "report" / "finn_flow_result.json").exists()


@pytest.mark.finn
def test_the_same_graph_with_matching_thresholds_builds(tmp_path):
    path = _mlp_with_thresholds(8, tmp_path / "ok.onnx")
    images = np.random.default_rng(1).integers(-3, 4, size=(20, 16)).astype(np.float32)
    result = finn_flow.build(path, tmp_path / "out", input_scale=1.0, input_datatype="INT3", verify_inputs=images,
                             codegen=False, summary=False)
    assert [row["argmax_agreement"] for row in result.verification] == [1.0] * len(result.verification)


def test_failing_node_is_the_innermost_node_in_the_traceback():
    from onnx import helper

    def convert(node):
        inner(helper.make_node("Relu", ["a"], ["b"], name="inner_relu"))

    def inner(n):
        raise AssertionError("Threshold shape incorrect")  # as FINN's bare asserts do

    with pytest.raises(AssertionError) as caught:
        convert(helper.make_node("Add", ["x", "y"], ["z"], name="outer_add"))
    assert failing_node(caught.value) == "inner_relu (Relu)"
    text = describe_step_failure("step_verify_hw_layers", caught.value, Path("out"), None)
    assert text.startswith("build step step_verify_hw_layers failed at node inner_relu (Relu): AssertionError: "
                           "Threshold shape incorrect. The likely cause: a thresholding layer whose thresholds")
    assert "The model this step received" not in text


def test_unknown_failure_has_no_invented_cause():
    try:
        raise KeyError("something FINN did not expect")
    except KeyError as error:
        text = describe_step_failure("step_streamline", error, Path("out"), "step_tidy_up")
    assert "likely cause" not in text and "step_tidy_up.onnx" in text
