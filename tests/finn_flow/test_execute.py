"""finn_flow/execute.py: GraphExecutor runs standard nodes at the graph's standard-domain opset."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper

from finn_flow.execute import GraphExecutor


def test_standard_nodes_use_the_standard_domain_opset_when_qonnx_is_listed_first():
    # a Brevitas QuantIdentity export lists qonnx's domain (version 2) first; opset 2 has no Mul kernel
    scale = np.array(0.5, dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("Quant", ["x", "s", "z", "b"], ["q"], domain="qonnx.custom_op.general",
                          signed=1, narrow=0, rounding_mode="ROUND"),
         helper.make_node("Mul", ["q", "c"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(scale, "s"), numpy_helper.from_array(np.array(0.0, np.float32), "z"),
                     numpy_helper.from_array(np.array(8.0, np.float32), "b"),
                     numpy_helper.from_array(np.full((1, 4), 3.0, np.float32), "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("qonnx.custom_op.general", 2),
                                                    helper.make_opsetid("", 20)])
    x = np.array([[0.2, -1.3, 7.0, 100.0]], dtype=np.float32)
    out = GraphExecutor(ModelWrapper(model)).run(x)["y"]
    expected = np.clip(np.round(x / 0.5), -128, 127) * 0.5 * 3.0
    np.testing.assert_array_equal(out, expected)
