"""The two graph rewrites an integer LBC DenseNet needs besides FINN's own, each on a tiny graph: executed before and
after on random integer inputs (identical outputs), plus the op types / attributes that must change or stay."""

from __future__ import annotations

import numpy as np
import pytest
from finn.transformation.streamline.reorder import MoveTransposePastJoinConcat
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name, qonnx_make_model

from finn_flow.transformations import FoldAveragePoolIntoPointwiseConv, MoveEqualTransposesPastJoinConcat

pytestmark = pytest.mark.finn


def _model(nodes, inputs: dict, out_shape, inits: dict) -> ModelWrapper:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s)
                                           for n, s in inputs.items()],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    for name, value in inits.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    return model.transform(InferShapes())


def _pool_graph(kernel: int = 1, pool: int = 2, scale: float = 0.25) -> ModelWrapper:
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[kernel, kernel], pads=[0] * 4),
             helper.make_node("Mul", ["c", "s"], ["m"]),
             helper.make_node("AveragePool", ["m"], ["y"], kernel_shape=[pool, pool], strides=[pool, pool])]
    out = (8 - kernel + 1) // pool
    return _model(nodes, {"x": [1, 3, 8, 8]}, [1, 5, out, out],
                  {"w": rng.integers(-7, 8, (5, 3, kernel, kernel)), "s": scale})


def _run(model: ModelWrapper, **inputs) -> np.ndarray:
    return execute_onnx(model, inputs)["y"]


@pytest.mark.parametrize("pool", [2, 4])
def test_pointwise_conv_and_average_pool_become_one_strided_conv_with_equal_outputs(pool):
    model = _pool_graph(pool=pool)
    x = np.random.default_rng(1).integers(0, 16, (1, 3, 8, 8)).astype(np.float32)
    before = _run(model, x=x)
    rewrite = FoldAveragePoolIntoPointwiseConv()
    after_model = model.transform(rewrite)
    after = _run(after_model, x=x)
    assert np.array_equal(before, after)  # integer sums, power-of-two scales: bit-exact
    ops = [n.op_type for n in after_model.graph.node]
    assert ops == ["Conv", "Mul", "Mul"], ops
    conv = after_model.graph.node[0]
    assert list(get_by_name(conv.attribute, "kernel_shape").ints) == [pool, pool]
    assert list(get_by_name(conv.attribute, "strides").ints) == [pool, pool]
    assert float(after_model.get_initializer(after_model.graph.node[1].input[1])) == 1 / pool**2
    assert len(rewrite.folded) == 1


@pytest.mark.parametrize("kernel, pool", [(3, 2), (1, 3)])
def test_other_convs_and_pools_are_left(kernel, pool):
    """A 3x3 conv's windows overlap (repeating weights would be wrong); a 3x3 pool's 1/9 is not exact in float."""
    model = _pool_graph(kernel=kernel, pool=pool)
    after = model.transform(FoldAveragePoolIntoPointwiseConv())
    assert [n.op_type for n in after.graph.node] == ["Conv", "Mul", "AveragePool"]


def _concat_graph(perm_b) -> ModelWrapper:
    nodes = [helper.make_node("Transpose", ["a"], ["ta"], perm=[0, 3, 1, 2]),
             helper.make_node("Transpose", ["b"], ["tb"], perm=perm_b),
             helper.make_node("Concat", ["ta", "tb"], ["y"], axis=1)]
    return _model(nodes, {"a": [1, 4, 4, 3], "b": [1, 4, 4, 5]}, [1, 8, 4, 4], {})


def test_equal_transposes_move_past_concat_which_then_joins_the_last_axis():
    model = _concat_graph([0, 3, 1, 2])
    rng = np.random.default_rng(2)
    a, b = (rng.integers(-8, 8, s).astype(np.float32) for s in ([1, 4, 4, 3], [1, 4, 4, 5]))
    after_model = model.transform(MoveEqualTransposesPastJoinConcat())
    assert np.array_equal(_run(model, a=a, b=b), _run(after_model, a=a, b=b))
    assert [n.op_type for n in after_model.graph.node] == ["Concat", "Transpose"]
    assert get_by_name(after_model.graph.node[0].attribute, "axis").i == 3


def test_different_transposes_stay_where_finns_rewrite_changes_the_values():
    model = _concat_graph([0, 3, 2, 1])  # b transposed otherwise (H and W swapped)
    rng = np.random.default_rng(3)
    a, b = (rng.integers(-8, 8, s).astype(np.float32) for s in ([1, 4, 4, 3], [1, 4, 4, 5]))
    reference = _run(model, a=a, b=b)
    ours = model.transform(MoveEqualTransposesPastJoinConcat())
    assert [n.op_type for n in ours.graph.node] == ["Transpose", "Transpose", "Concat"]
    assert np.array_equal(_run(ours, a=a, b=b), reference)
    finns = _concat_graph([0, 3, 2, 1]).transform(MoveTransposePastJoinConcat())  # finn-plus 1.6.1 moves them
    assert not np.array_equal(_run(finns, a=a, b=b), reference)
