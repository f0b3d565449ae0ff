"""InsertInputNormalization: Mul(a) -> Add(b) after the graph input, once; execution equals relu(x * a + b)."""
import numpy as np
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx

from finn_flow.preprocessing import affine_constants
from finn_flow.transformations.insert_input_normalization import InsertInputNormalization


def test_normalisation_is_inserted_once_and_computes_x_a_plus_b():
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 2, 2])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 2, 2])
    model = ModelWrapper(helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [inp], [out])))
    a, b = affine_constants({"pixel_scale": 1 / 255, "mean": [0.49, 0.48, 0.45], "std": [0.25, 0.24, 0.26]}, 3)
    model = model.transform(InsertInputNormalization(a, b)).transform(InsertInputNormalization(a, b))
    assert [n.op_type for n in model.graph.node] == ["Mul", "Add", "Relu"]
    pixels = np.random.default_rng(0).integers(0, 256, (1, 3, 2, 2)).astype(np.float32)
    produced = execute_onnx(model, {"x": pixels})["y"]
    assert np.array_equal(produced, np.maximum(pixels * a + b, 0))
