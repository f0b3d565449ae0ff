"""The two graph rewrites Group-Net's integer residual streams need, each on a tiny graph: executed before and
after on random inputs (identical outputs), plus the op types / attributes that must change."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from finn_flow.transformations import (
    ConvertGlobalReduceMeanToGlobalAveragePool,
    ConvertSignedQuantAfterReluToUnsigned,
)

pytestmark = pytest.mark.finn


def _model(nodes, inits, in_shape, out_shape) -> ModelWrapper:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 18)]))
    for name, value in inits.items():
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    for node in nodes:
        for out in node.output:
            if out != "y":
                model.set_tensor_shape(out, in_shape)
    return model


def _run(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    return execute_onnx(model, {"x": x})["y"]


@pytest.mark.parametrize("bits", [2, 4])
def test_signed_quant_after_relu_becomes_the_equal_unsigned_one(bits):
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Quant", ["r", "s", "z", "b"], ["y"], domain="qonnx.custom_op.general", signed=1,
                              narrow=0, rounding_mode="ROUND")]
    model = _model(nodes, {"s": 0.25, "z": 0.0, "b": float(bits)}, [1, 64], [1, 64])
    x = np.random.default_rng(0).normal(0, 2, (1, 64)).astype(np.float32)
    before = _run(model, x)
    rewrite = ConvertSignedQuantAfterReluToUnsigned()
    after_model = model.transform(rewrite)
    quant = after_model.get_nodes_by_op_type("Quant")[0]
    assert getCustomOp(quant).get_nodeattr("signed") == 0
    assert float(after_model.get_initializer(quant.input[3])) == bits - 1
    assert rewrite.rewritten == [quant.name]
    np.testing.assert_array_equal(_run(after_model, x), before)
    assert before.max() == 0.25 * (2 ** (bits - 1) - 1)  # the clamp at the top is reached, and kept


def test_signed_quant_not_after_relu_is_left_alone():
    nodes = [helper.make_node("Quant", ["x", "s", "z", "b"], ["y"], domain="qonnx.custom_op.general", signed=1,
                              narrow=0, rounding_mode="ROUND")]
    model = _model(nodes, {"s": 0.25, "z": 0.0, "b": 4.0}, [1, 8], [1, 8])
    rewrite = ConvertSignedQuantAfterReluToUnsigned()
    model = model.transform(rewrite)
    assert rewrite.rewritten == [] and getCustomOp(model.graph.node[0]).get_nodeattr("signed") == 1


@pytest.mark.parametrize("axes, converted", [([-1, -2], True), ([2, 3], True), ([1], False)])
def test_spatial_reduce_mean_becomes_global_average_pool(axes, converted):
    out_shape = [1, 3, 1, 1] if converted else [1, 1, 4, 4]
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)]
    model = _model(nodes, {}, [1, 3, 4, 4], out_shape)
    model.set_initializer("axes", np.asarray(axes, dtype=np.int64))
    x = np.random.default_rng(1).integers(-8, 8, (1, 3, 4, 4)).astype(np.float32)
    before = _run(model, x)
    model = model.transform(ConvertGlobalReduceMeanToGlobalAveragePool())
    ops = [n.op_type for n in model.graph.node]
    assert ops == (["GlobalAveragePool"] if converted else ["ReduceMean"])
    np.testing.assert_array_equal(_run(model, x), before)
