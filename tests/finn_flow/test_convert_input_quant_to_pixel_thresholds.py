"""ConvertInputQuantToPixelThresholds (step_quantize_pixels_exactly): the CIFAR-10 normalisation and an 8-bit
``QuantIdentity`` on raw uint8 pixels become thresholds that quantise every pixel value as PyTorch does.

``SCALE`` is an input-quantiser scale at which FINN's own conversion (thresholds ``(k + 0.5) s`` with the
normalisation absorbed in float32) puts pixel value 167 of the blue channel on the wrong side (found by scanning
300 random scales: 2 were wrong); the stock-flow assertions show that each test can fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from finn_flow.preprocessing import affine_constants, with_preprocessing

pytestmark = pytest.mark.finn

PREPROCESSING = {"pixel_scale": 1 / 255, "mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616]}
SCALE = np.float32(0.019670218)


def _input_quantizer(scale: np.float32) -> nn.Module:
    """Brevitas ``QuantIdentity(Int8ActPerTensorFloat)`` (eval) whose scale is ``scale`` exactly."""
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat

    quant = QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False).eval()
    return _set_scale(quant, scale)


def _set_scale(quant: nn.Module, scale: np.float32) -> nn.Module:
    impl = quant.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl
    with torch.no_grad():  # before and after its statistics are collected, the scale is value / 128 (exact)
        impl.buffer.fill_(float(scale) * 128)
        impl.value.fill_(float(scale) * 128)
    return quant


def _pixel_graph(scale: np.float32, zero_point: float = 0.0, signed: bool = True):
    """``pixels (UINT8) -> Mul(a) -> Add(b) -> Quant(scale, zero_point, 8 bit)``, the graph finn_flow builds for a
    CIFAR-normalised network with an 8-bit input quantiser; input ``[1, 3, 1, 256]``."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    a, b = affine_constants(PREPROCESSING, 3)
    nodes = [helper.make_node("Mul", ["pixels", "a"], ["x1"]), helper.make_node("Add", ["x1", "b"], ["x2"]),
             helper.make_node("Quant", ["x2", "s", "zp", "bw"], ["out"], domain="qonnx.custom_op.general",
                              signed=int(signed), narrow=0, rounding_mode="ROUND")]
    graph = helper.make_graph(nodes, "pixels", [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 1, 256])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 1, 256])])
    model = ModelWrapper(helper.make_model(graph))
    for name, value in (("a", a), ("b", b), ("s", scale), ("zp", zero_point), ("bw", 8.0)):
        model.set_initializer(name, np.asarray(value, dtype=np.float32))
    model.set_tensor_datatype("pixels", DataType["UINT8"])
    return cleanup_model(model)


def _run(model, pixels: np.ndarray) -> np.ndarray:
    from qonnx.core.onnx_exec import execute_onnx

    return execute_onnx(model, {model.graph.input[0].name: pixels})[model.graph.output[0].name]


def _finn_streamlined(model):
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN
    from finn.transformation.streamline import Streamline

    return model.transform(ConvertQONNXtoFINN()).transform(Streamline())


ALL_PIXELS = np.broadcast_to(np.arange(256, dtype=np.float32).reshape(1, 1, 1, 256), (1, 3, 1, 256)).copy()


def test_every_pixel_value_is_quantised_as_pytorch_does_where_finns_thresholds_are_not():
    from finn_flow.transformations import ConvertInputQuantToPixelThresholds

    with torch.no_grad():  # PyTorch: (p * a + b) then Brevitas's 8-bit quantiser, all 256 values per channel
        torch_out = with_preprocessing(_input_quantizer(SCALE), PREPROCESSING, 3)(
            torch.from_numpy(ALL_PIXELS)).numpy()
    graph = _pixel_graph(SCALE)
    assert np.array_equal(_run(graph, ALL_PIXELS), torch_out)  # the graph computes what PyTorch computes
    stock = _run(_finn_streamlined(graph), ALL_PIXELS)
    assert np.argwhere(stock != torch_out).tolist() == [[0, 2, 0, 167]]  # FINN's thresholds: one value wrong

    rewrite = ConvertInputQuantToPixelThresholds()
    converted = graph.transform(rewrite)
    assert rewrite.converted == [{"quant": "Quant_0", "pixel_values": 256, "channels": 3}]
    assert [n.op_type for n in converted.graph.node] == ["MultiThreshold", "Mul"]
    thresholds = converted.get_initializer(converted.graph.node[0].input[1])
    assert thresholds.shape == (3, 255) and np.all(thresholds + 0.5 == np.round(thresholds + 0.5))  # midway
    assert np.array_equal(_run(converted, ALL_PIXELS), torch_out)
    assert np.array_equal(_run(_finn_streamlined(converted), ALL_PIXELS), torch_out)  # and after FINN's own steps


def test_unsigned_quantiser_with_zero_point_and_a_decreasing_chain():
    """An unsigned quantiser with a zero point keeps its ``Add(-z)``; a chain that decreases in the pixel value
    (negative scale) cannot be thresholded on the pixels and is left unchanged, with the reason."""
    from finn_flow.transformations import ConvertInputQuantToPixelThresholds

    graph = _pixel_graph(np.float32(0.0131), zero_point=7.0, signed=False)
    expected = _run(graph, ALL_PIXELS)
    converted = graph.transform(ConvertInputQuantToPixelThresholds())
    assert [n.op_type for n in converted.graph.node] == ["MultiThreshold", "Add", "Mul"]
    assert np.array_equal(_run(converted, ALL_PIXELS), expected)

    flipped = _pixel_graph(SCALE)
    mul = flipped.graph.node[0]
    flipped.set_initializer(mul.input[1], -flipped.get_initializer(mul.input[1]))
    rewrite = ConvertInputQuantToPixelThresholds()
    unchanged = flipped.transform(rewrite)
    assert [n.op_type for n in unchanged.graph.node] == ["Mul", "Add", "Quant"]
    assert rewrite.converted == [] and "not non-decreasing" in rewrite.skipped[0]["reason"]


@pytest.mark.slow
def test_abc_cnv_with_an_8bit_input_quantizer_builds_exactly_on_real_cifar_images(tmp_path):
    """The issue-12 ABC CNV layout (8-bit ``QuantIdentity`` on the normalised input, a weights-only ABC first conv,
    ABC after it, 4-bit coefficients) at width 0.125 with two bases (M = N = 2; the layout's ABC(3, 3) builds the same
    way, at twice the cost), BatchNorm statistics and the quantiser from 20 real CIFAR-10 test images, the quantiser's
    scale set to ``SCALE``: every stage equals PyTorch on those images from the raw pixels (without the rewrite the
    streamlined stage differs by 0.88 here; with ABC(3, 3) it picked another class on 1 image, max abs diff 2.67)."""
    import brevitas_abc
    import finn_flow
    from brevitas_abc.models import create_model
    from lightning_modules.models.builder import drop_activations_before_binary_inputs
    from tests.conftest import cifar_test_uint8
    from tests.finn_flow.build_checks import assert_every_stage_exact

    torch.manual_seed(0)
    cnv = create_model("cnv", num_classes=10, width=0.125)
    body = nn.Sequential(*cnv.features, *cnv.classifier)
    common = dict(keep_first=False, keep_last=False, coefficient_bits=4)
    first = next(name for name, m in body.named_modules() if isinstance(m, nn.Conv2d))
    brevitas_abc.swap(body, brevitas_abc.ABCConfig(2, None, **common), filter_fn=lambda m, n: n == first, verbose=False)
    brevitas_abc.swap(body, brevitas_abc.ABCConfig(2, 2, **common), filter_fn=lambda m, n: n != first, verbose=False)
    drop_activations_before_binary_inputs(body)
    model = nn.Sequential(_input_quantizer(SCALE), *body)
    images, _ = cifar_test_uint8(2)
    with torch.no_grad():  # BatchNorm statistics of these images
        with_preprocessing(model, PREPROCESSING, 3).train()(torch.from_numpy(images).float())
    model.eval()
    _set_scale(model[0], SCALE)  # the training pass collected the quantiser's statistics: back to SCALE
    result = finn_flow.build(model, tmp_path / "build", abc_mapping="fused", target_fps=1000, verify_inputs=images,
                             preprocessing=PREPROCESSING, codegen=False)
    assert_every_stage_exact(result, 20)
    report = (tmp_path / "build" / "report" / "pixel_thresholds.json").read_text()
    assert '"pixel_values": 256' in report
