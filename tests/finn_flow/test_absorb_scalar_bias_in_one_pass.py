"""AbsorbScalarBiasIntoMultiThresholdInOnePass gives FINN's AbsorbScalarBiasIntoMultiThreshold graph byte for byte,
in one pass: chains of Adds, and the Adds FINN must skip (non-constant, non-scalar, too wide, after a fork)."""
import numpy as np
import pytest
from finn.transformation.streamline.absorb import AbsorbScalarBiasIntoMultiThreshold
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from finn_flow.transformations.absorb_scalar_bias_in_one_pass import AbsorbScalarBiasIntoMultiThresholdInOnePass

C = 4


def threshold_graph() -> ModelWrapper:
    """Five MultiThresholds (3 thresholds per channel, UINT2) on one input, each followed by a different case."""
    value = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, C])  # noqa: E731
    nodes, outputs = [], []

    def mt(name):
        nodes.append(helper.make_node("MultiThreshold", ["x", f"{name}_t"], [name], domain="qonnx.custom_op.general",
                                      out_dtype="UINT2", out_bias=0.0))
        return name

    def add(src, const_name, out):
        nodes.append(helper.make_node("Add", [src, const_name], [out]))
        return out

    outputs.append(add(add(mt("a"), "minus2", "a1"), "plus1", "a2"))  # chain: UINT2 -> INT2 -> INT3
    outputs.append(add(mt("b"), "x", "b1"))  # dynamic bias: skipped
    outputs.append(add(mt("c"), "vector", "c1"))  # per-channel bias: skipped
    outputs.append(add(mt("d"), "plus100", "d1"))  # UINT2 -> UINT7: skipped (width grows)
    fork = mt("e")  # feeds two Adds: skipped
    outputs += [add(fork, "plus1", "e1"), add(fork, "minus2", "e2")]
    graph = helper.make_graph(nodes, "thresholds", [value("x")], [value(o) for o in outputs])
    model = ModelWrapper(qonnx_make_model(graph))
    rng = np.random.default_rng(0)
    for name in "abcde":
        model.set_initializer(f"{name}_t", np.sort(rng.normal(size=(C, 3)), axis=1).astype(np.float32))
    for name, v in {"minus2": -2.0, "plus1": 1.0, "plus100": 100.0}.items():
        model.set_initializer(name, np.array(v, np.float32))
    model.set_initializer("vector", np.arange(C, dtype=np.float32))
    for name in "abcde":
        model.set_tensor_datatype(name, DataType["UINT2"])
    # every tensor annotated, as in the flow (each step's cleanup infers datatypes)
    return model.transform(InferShapes()).transform(InferDataTypes())


@pytest.mark.parametrize("max_bitwidth_increase, adds_left", [(0, 6), (2, 5)])
def test_same_graph_as_finn_byte_for_byte_and_same_outputs(max_bitwidth_increase, adds_left):
    """Increase 0: only the chain's first Add goes (UINT2 -> INT2; the second would need INT3); 2: both go."""
    model = threshold_graph()
    finn = model.transform(AbsorbScalarBiasIntoMultiThreshold(max_bitwidth_increase))
    ours = model.transform(AbsorbScalarBiasIntoMultiThresholdInOnePass(max_bitwidth_increase))
    assert ours.model.SerializeToString() == finn.model.SerializeToString()
    assert [n.op_type for n in ours.graph.node].count("Add") == adds_left
    x = np.random.default_rng(1).normal(size=(1, C)).astype(np.float32)
    expected = execute_onnx(model, {"x": x})
    for name, value in execute_onnx(ours, {"x": x}).items():
        np.testing.assert_array_equal(value, expected[name])


def test_one_pass_returns_unchanged_so_transform_runs_it_once():
    calls = []

    class Counting(AbsorbScalarBiasIntoMultiThresholdInOnePass):
        def apply(self, model):
            calls.append(1)
            return super().apply(model)

    threshold_graph().transform(Counting())
    assert len(calls) == 1
