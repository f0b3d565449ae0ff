"""MoveEqualMulPastJoinAdd on tiny graphs: equal per-channel scales move past the join (same outputs), different
ones stay (finn-plus's MoveMulPastJoinAdd raised on array constants)."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from finn_flow.transformations.move_equal_mul_past_join_add import MoveEqualMulPastJoinAdd


def _join(scale_a: np.ndarray, scale_b: np.ndarray) -> ModelWrapper:
    shape = [1, 4]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["a", "sa"], ["ma"]), helper.make_node("Mul", ["b", "sb"], ["mb"]),
         helper.make_node("Add", ["ma", "mb"], ["y"])],
        "join", [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("sa", scale_a.astype(np.float32))
    model.set_initializer("sb", scale_b.astype(np.float32))
    return model.transform(InferShapes())


@pytest.mark.parametrize("equal", [True, False])
def test_equal_array_scales_move_past_the_add_and_different_ones_stay(equal):
    scale = np.array([[0.5, 0.25, 2.0, 1.0]])
    model = _join(scale, scale if equal else scale * 4)
    rng = np.random.default_rng(0)
    inputs = {"a": rng.integers(-8, 8, (1, 4)).astype(np.float32), "b": rng.integers(-8, 8, (1, 4)).astype(np.float32)}
    before = execute_onnx(model, inputs)["y"]
    moved = model.transform(MoveEqualMulPastJoinAdd())
    ops = [n.op_type for n in moved.graph.node]
    assert ops == (["Add", "Mul"] if equal else ["Mul", "Mul", "Add"])
    assert np.array_equal(execute_onnx(moved, inputs)["y"], before)


def test_equal_scales_that_are_not_powers_of_two_stay_because_rounding_would_differ():
    scale = np.array([[0.5, 0.3, 2.0, 1.0]])
    moved = _join(scale, scale).transform(MoveEqualMulPastJoinAdd())
    assert [n.op_type for n in moved.graph.node] == ["Mul", "Mul", "Add"]
