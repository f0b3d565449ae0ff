"""round_half_to_even_thresholds: FINN's Quant -> MultiThreshold conversion sends exact half steps up; the Quant
node (and Brevitas) round them to even. Inputs exactly on every half step of power-of-two scales, per tensor and
per channel, signed, unsigned and after a Relu: the converted graph must equal the QONNX graph bit for bit, and
FINN's own conversion must not (so the test can fail)."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from finn_flow.transformations.round_half_to_even_thresholds import (break_ties_to_even,
                                                                     round_half_to_even_thresholds)

CHANNELS = 4


def quant_graph(scale: np.ndarray, bits: int, signed: bool, narrow: bool, relu: bool) -> ModelWrapper:
    inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, CHANNELS])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, CHANNELS])
    nodes = [helper.make_node("Relu", ["x"], ["r"])] if relu else []
    nodes.append(helper.make_node("Quant", ["r" if relu else "x", "scale", "zero_point", "bits"], ["y"],
                                  domain="qonnx.custom_op.general", signed=int(signed), narrow=int(narrow),
                                  rounding_mode="ROUND"))
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "quant", [inp], [out])))
    model.set_initializer("scale", scale.astype(np.float32))
    model.set_initializer("zero_point", np.zeros((), np.float32))
    model.set_initializer("bits", np.array(bits, np.float32))
    return model.transform(InferShapes())


def half_steps(scale: np.ndarray, bits: int) -> np.ndarray:
    """Rows of inputs exactly at ``(k + 1/2) * s`` for every k across the quantiser's range (and beyond)."""
    k = np.arange(-(2 ** bits) - 1, 2 ** bits + 1, dtype=np.float32)
    return ((k[:, None] + 0.5) * np.broadcast_to(scale, (1, CHANNELS))).astype(np.float32)


def run(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([execute_onnx(model, {name_in: row[None]})[name_out] for row in x])


def converted(model: ModelWrapper) -> ModelWrapper:
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN

    return model.transform(ConvertQONNXtoFINN())


CASES = {
    "signed per tensor": (np.array(0.25), 4, True, False, False),
    "signed narrow per channel": (np.array([[0.25, 0.5, 1.0, 0.125]]), 3, True, True, False),
    "unsigned per channel": (np.array([[0.5, 0.25, 2.0, 0.0625]]), 4, False, False, False),
    "relu": (np.array(0.125), 2, False, False, True),
}


@pytest.mark.exact
@pytest.mark.parametrize("case", CASES)
def test_converted_thresholds_round_exact_halves_to_even_like_quant(case):
    scale, bits, signed, narrow, relu = CASES[case]
    model = quant_graph(scale, bits, signed, narrow, relu)
    x = half_steps(scale, bits)
    expected = run(model, x)
    with round_half_to_even_thresholds():
        finn_model = converted(model)
    assert any(n.op_type == "MultiThreshold" for n in finn_model.graph.node)
    np.testing.assert_array_equal(run(finn_model, x), expected)
    # off the ties the nudge changes nothing: a quarter step either side of every half step
    for offset in (-0.25, 0.25):
        shifted = (x + offset * np.broadcast_to(scale, (1, CHANNELS))).astype(np.float32)
        np.testing.assert_array_equal(run(finn_model, shifted), run(model, shifted))


def test_finn_conversion_alone_rounds_half_steps_up():
    """The defect the patch fixes (if FINN ever rounds to even itself, this fails and the patch can go)."""
    scale, bits, signed, narrow, relu = CASES["signed per tensor"]
    model = quant_graph(scale, bits, signed, narrow, relu)
    x = half_steps(scale, bits)
    differs = run(converted(model), x) != run(model, x)
    assert differs.any() and not differs.all()


def test_patch_is_undone_after_the_block():
    from finn.transformation.qonnx.qonnx_activation_handlers import QuantIdentityHandler, QuantReluHandler

    originals = (QuantIdentityHandler._calculate_thresholds, QuantReluHandler._calculate_thresholds)
    with round_half_to_even_thresholds():
        assert QuantIdentityHandler._calculate_thresholds is not originals[0]
    assert (QuantIdentityHandler._calculate_thresholds, QuantReluHandler._calculate_thresholds) == originals


def test_break_ties_to_even_moves_only_thresholds_below_odd_levels():
    thresholds = np.array([[-1.5, -0.5, 0.5, 1.5]], np.float32)  # levels -2..2 above lowest -2
    moved = break_ties_to_even(thresholds, lowest=-2.0)
    # upper levels -1, 0, 1, 2: the first and third are odd
    assert (moved > thresholds).tolist() == [[True, False, True, False]]
    assert moved.dtype == np.float32 and np.all(np.nextafter(thresholds, np.float32(np.inf)) >= moved)
