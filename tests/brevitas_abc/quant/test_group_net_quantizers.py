"""Group-Net's binary weights and LBC's ternary anchors as Brevitas quantisers: the same values and gradients as
BinaryConv2d / LBConv2d, and Brevitas's OWN exporter writes the right graph (executed and compared)."""
import functools

import numpy as np
import pytest
import torch
from brevitas.export import export_qonnx as brevitas_export_qonnx
from brevitas.nn import QuantConv2d
from brevitas.quant import SignedBinaryActPerTensorConst
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.cleanup import cleanup_model
from torch import nn

from brevitas_abc.export import execute_qonnx
from brevitas_abc.nn import BinaryConv2d, LBConv2d
from brevitas_abc.quant import GroupNetBinaryWeightPerChannelFloat, LBCTernaryWeightPerTensorConst
from tests.conftest import cifar_normalised as _cifar_normalised


@functools.cache
def cifar_normalised(per_class):
    return _cifar_normalised(per_class)


def _group_net_conv(cin, cout):
    return QuantConv2d(cin, cout, 3, bias=False, weight_quant=GroupNetBinaryWeightPerChannelFloat,
                       input_quant=SignedBinaryActPerTensorConst)


def test_group_net_weight_quantizer_trains_like_binary_conv():
    """Bitwise-equal values and gradients. Exactness is constructed: each channel's |W| is one power of two, so
    alpha_c = mean |W_c| is a power of two and scaling by it commutes exactly with float32 rounding (the Brevitas
    conv multiplies alpha into the weight, BinaryConv2d into the +-1 conv's output)."""
    torch.manual_seed(0)
    x = cifar_normalised(2)  # 20 real CIFAR-10 images
    layer = _group_net_conv(3, 8)
    reference = BinaryConv2d(3, 8, 3)  # threshold t = 0: Brevitas's binary activation is sign(x)
    with torch.no_grad():
        magnitude = 2.0 ** -torch.arange(1, 9, dtype=torch.float32).view(8, 1, 1, 1)
        layer.weight.copy_(torch.where(torch.randn(8, 3, 3, 3) >= 0, 1.0, -1.0) * magnitude)
        reference.weight.copy_(layer.weight)
    outputs, grads = [], []
    for module in (layer, reference):
        xi = x.clone().requires_grad_(True)
        out = module(xi)
        out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
        outputs.append(out.detach())
        grads.append((xi.grad, module.weight.grad))
    assert torch.equal(outputs[0], outputs[1])
    assert torch.equal(grads[0][0], grads[1][0])  # input: the clipped STE 1[|x| <= 1] on both sides
    assert bool((grads[0][0] == 0).any()) and bool((x.abs() > 1).any())
    assert torch.equal(grads[0][1], grads[1][1])  # weight: alpha dL/dw_hat, the identity STE through sign


def _brevitas_export_and_run(model, x, path):
    brevitas_export_qonnx(model, args=x, export_path=str(path))
    wrapper = cleanup_model(ModelWrapper(str(path)))
    return wrapper, execute_qonnx(wrapper, x.numpy())


@pytest.mark.slow
def test_brevitas_exports_group_net_weights_right(tmp_path):
    torch.manual_seed(0)
    x = cifar_normalised(2)
    model = nn.Sequential(_group_net_conv(3, 8), nn.BatchNorm2d(8), _group_net_conv(8, 4)).eval()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        expected = model(x).numpy()
    wrapper, produced = _brevitas_export_and_run(model, x, tmp_path / "group_net.onnx")
    scales = [wrapper.get_initializer(n.input[1]) for n in wrapper.graph.node if n.op_type == "BipolarQuant"
              and wrapper.get_initializer(n.input[0]) is not None]
    assert len(scales) == 2 and all(s.size > 1 for s in scales)  # per-channel alpha, not sign(W) alone
    assert np.abs(produced - expected).max() <= 1e-5 * np.abs(expected).max()


def test_lbc_ternary_quantizer_is_the_anchor_conv_and_exports_right(tmp_path):
    x = cifar_normalised(2)
    lbc = LBConv2d(3, 8, 3, padding=1, num_anchors=6, density=0.5, seed=3)
    conv = QuantConv2d(3, 6, 3, padding=1, bias=False, weight_quant=LBCTernaryWeightPerTensorConst).eval()
    with torch.no_grad():
        conv.weight.copy_(lbc.anchors)
    conv.weight.requires_grad_(False)
    with torch.no_grad():
        expected = lbc.anchor_response(x)
        assert torch.equal(conv(x), expected)
    wrapper, produced = _brevitas_export_and_run(conv, x, tmp_path / "lbc.onnx")
    quant = [n for n in wrapper.graph.node if n.op_type == "Quant"]
    assert len(quant) == 1 and float(wrapper.get_initializer(quant[0].input[3])) == 2.0  # 2-bit ternary
    assert np.abs(produced - expected.numpy()).max() <= 1e-5
