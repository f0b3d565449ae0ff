"""brevitas_abc.quant: ABC quantisers inside stock Brevitas QuantConv2d / QuantLinear train with exactly ABCConv2d's
math (one convolution, same values and gradients), export exactly through brevitas_abc.export_qonnx, and make
Brevitas's own exporter fail with an error naming the layer (instead of silently keeping sign(W))."""
import functools

import onnx
import pytest
import torch
from brevitas.export import export_qonnx as brevitas_export_qonnx
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from torch import nn
from torch.overrides import TorchFunctionMode

import brevitas_abc
from brevitas_abc import ABCConv2d, ABCLinear
from brevitas_abc.nn import ExactBatchNorm2d
from brevitas_abc.quant import (
    ABCActPerTensorFloat,
    ABCExportError,
    ABCWeightPerChannelFloat,
    ABCWeightPerTensorFloat,
    UnknownQuantizerOptionError,
)
from brevitas_abc.quant.to_abc_layer import to_abc_layer
from tests.conftest import cifar_normalised as _cifar_normalised
from tests.conftest import mnist_tensors as _mnist_tensors


@functools.cache
def cifar_normalised(per_class):
    return _cifar_normalised(per_class)


@functools.cache
def mnist_tensors(split, count):
    return _mnist_tensors(split, count)


def _quant_conv(cin, cout, k, weight_quant=ABCWeightPerChannelFloat, m=3, n=3, **kwargs):
    act = dict(input_quant=ABCActPerTensorFloat, input_num_bases=n) if n else {}
    return QuantConv2d(cin, cout, k, weight_quant=weight_quant, weight_num_bases=m, **act, **kwargs)


def _abc_twin(layer, cls, **options):
    """An ABC layer with ``layer``'s weight, bias, shifts and betas."""
    twin = cls._like(layer, **options)
    with torch.no_grad():
        twin.weight.copy_(layer.weight)
        if layer.bias is not None:
            twin.bias.copy_(layer.bias)
    return twin


def _value_and_grads(layer, x):
    layer.zero_grad()
    x = x.clone().requires_grad_(True)
    out = layer(x)
    out.backward(torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    grads = {name.split(".")[-1] if "quant" in name else name: p.grad.clone()
             for name, p in layer.named_parameters() if p.grad is not None}
    return out.detach(), x.grad.clone(), grads


class _CountConvs(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.nn.functional.conv2d, torch.conv2d, torch.nn.functional.linear):
            self.calls += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("weight_quant,granularity", [(ABCWeightPerChannelFloat, "per_channel"),
                                                      (ABCWeightPerTensorFloat, "per_tensor")])
@pytest.mark.parametrize("padding,coefficient_bits,bias", [(0, None, False), (1, 4, False), (1, None, False),
                                                           (1, 4, True)])
def test_quant_conv_trains_with_abc_conv_math(weight_quant, granularity, padding, coefficient_bits, bias):
    """Same outputs and gradients (input, weight, bias, activation shifts and betas) as ABCConv2d, one conv, bit for
    bit: the Brevitas conv pads the binary bases with +1 and adds the bias last, as ABCConv2d does
    (brevitas_abc.quant.binary_padding), so both run the same operations on the same tensors."""
    torch.manual_seed(0)
    x = cifar_normalised(2)  # 20 real CIFAR-10 images
    bits = dict(weight_coefficient_bits=coefficient_bits, input_coefficient_bits=coefficient_bits)
    layer = _quant_conv(3, 8, 3, weight_quant, padding=padding, bias=bias, **bits)
    twin = _abc_twin(layer, ABCConv2d, num_weight_bases=3, num_act_bases=3, weight_granularity=granularity,
                     coefficient_bits=coefficient_bits)
    with _CountConvs() as counter:
        out, gx, grads = _value_and_grads(layer, x)
    assert counter.calls == 1
    out_ref, gx_ref, grads_ref = _value_and_grads(twin, x)
    assert grads.keys() == grads_ref.keys() == {"weight", "shifts", "betas"} | ({"bias"} if bias else set())
    assert torch.equal(out, out_ref) and torch.equal(gx, gx_ref)
    for name in grads:
        assert torch.equal(grads[name], grads_ref[name]), name


def test_quant_linear_trains_with_abc_linear_math():
    torch.manual_seed(0)
    x, _ = mnist_tensors("test", 32)
    x = x.flatten(1) * 2 - 1
    # no bias: Brevitas adds it inside F.linear, ABCLinear last (float rounding; see the conv test with bias)
    layer = QuantLinear(784, 16, bias=False, weight_quant=ABCWeightPerChannelFloat, weight_num_bases=5,
                        input_quant=ABCActPerTensorFloat, input_num_bases=2, input_shifts=(-0.25, 0.25))
    twin = _abc_twin(layer, ABCLinear, num_weight_bases=5, num_act_bases=2, act_shifts=(-0.25, 0.25))
    out, gx, grads = _value_and_grads(layer, x)
    out_ref, gx_ref, grads_ref = _value_and_grads(twin, x)
    assert torch.equal(out, out_ref) and torch.equal(gx, gx_ref)
    assert grads.keys() == grads_ref.keys()
    for name in grads:
        assert torch.equal(grads[name], grads_ref[name]), name


def test_to_abc_layer_copies_trained_state():
    torch.manual_seed(0)
    layer = _quant_conv(3, 4, 3, padding=1, weight_train_shifts=True)
    with torch.no_grad():
        layer.input_quant.fused_activation_quant_proxy.tensor_quant.betas.mul_(torch.tensor([0.5, 1.0, 2.0]))
        layer.weight_quant.tensor_quant.shifts.add_(0.1)
    x = cifar_normalised(1)
    abc = to_abc_layer(layer)
    assert type(abc) is ABCConv2d and abc.abc_options.binary_padding == 1.0
    assert abc.abc_options.train_weight_shifts
    assert torch.equal(abc(x), layer(x))


def test_to_abc_layer_refuses_a_non_abc_input_quantiser():
    from brevitas.quant import Int8ActPerTensorFloat

    layer = QuantConv2d(3, 4, 3, weight_quant=ABCWeightPerChannelFloat, input_quant=Int8ActPerTensorFloat)
    with pytest.raises(ValueError, match="input quantiser is not an ABC one"):
        to_abc_layer(layer)


def test_misspelt_option_is_an_error_not_ignored():
    with pytest.raises(UnknownQuantizerOptionError, match=r"\['num_base'\].*ABCWeightPerChannelFloat"):
        QuantConv2d(3, 4, 3, weight_quant=ABCWeightPerChannelFloat, weight_num_base=3)
    with pytest.raises(UnknownQuantizerOptionError, match=r"\['shift'\].*ABCActPerTensorFloat"):
        QuantIdentity(act_quant=ABCActPerTensorFloat, shift=(0.0,))
    with pytest.raises(ValueError, match="num_weight_bases=9 is not allowed"):
        QuantConv2d(3, 4, 3, weight_quant=ABCWeightPerChannelFloat, weight_num_bases=9)


def test_state_dict_round_trip():
    torch.manual_seed(0)
    layer = _quant_conv(3, 4, 3)
    with torch.no_grad():
        layer.input_quant.fused_activation_quant_proxy.tensor_quant.betas.copy_(torch.tensor([0.5, 1.5, 3.0]))
    fresh = _quant_conv(3, 4, 3)
    fresh.load_state_dict(layer.state_dict())
    x = cifar_normalised(1)
    assert torch.equal(fresh(x), layer(x))


def _mnist_model(coefficient_bits):
    """QuantConv2d/QuantLinear with ABC quantisers only, ABC(3, 3) with binary activations on every layer."""
    bits = dict(weight_coefficient_bits=coefficient_bits, input_coefficient_bits=coefficient_bits)
    return nn.Sequential(
        _quant_conv(1, 8, 3, stride=2, **bits), ExactBatchNorm2d(8),
        _quant_conv(8, 8, 3, ABCWeightPerTensorFloat, stride=2, padding=1, **bits), ExactBatchNorm2d(8), nn.Flatten(),
        QuantLinear(8 * 7 * 7, 10, bias=True, weight_quant=ABCWeightPerChannelFloat, weight_num_bases=3,
                    input_quant=ABCActPerTensorFloat, input_num_bases=3, **bits))


def _train(model, steps=20):
    x, y = mnist_tensors("train", 64 * steps)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for i in range(steps):
        loss = nn.functional.cross_entropy(model(x[64 * i:64 * (i + 1)]), y[64 * i:64 * (i + 1)])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.mark.slow
@pytest.mark.parametrize("coefficient_bits", [None, 4])
def test_export_qonnx_is_exact(tmp_path, coefficient_bits):
    torch.manual_seed(0)
    model = _train(_mnist_model(coefficient_bits))
    x, _ = mnist_tensors("test", 50)
    report = brevitas_abc.export_qonnx(model, x, tmp_path / "quant_abc.onnx", atol=1e-4)
    assert report.argmax_agreement == 1.0 and report.near_tie_inputs == 0
    graph = onnx.load(str(tmp_path / "quant_abc.onnx")).graph
    weights = {init.name for init in graph.initializer}
    act_binarizers = [n for n in graph.node if n.op_type == "BipolarQuant" and n.input[0] not in weights]
    assert len(act_binarizers) == 3 * 3  # N = 3 activation bases in each of the three layers
    if coefficient_bits is not None:
        assert report.max_abs_diff <= 1e-5  # integer sums: exact up to the last float ops (BN, bias)


def test_brevitas_export_names_the_layer_and_the_right_exporter(tmp_path):
    torch.manual_seed(0)
    model = _mnist_model(None).eval()
    x, _ = mnist_tensors("test", 2)
    with pytest.raises(ABCExportError, match=r"layer '0' \(QuantConv2d\).*ABCActPerTensorFloat.*"
                                             r"brevitas_abc\.export_qonnx"):
        brevitas_export_qonnx(model, args=x, export_path=str(tmp_path / "stock.onnx"))
    model = nn.Sequential(nn.Flatten(), QuantLinear(784, 10, weight_quant=ABCWeightPerChannelFloat))
    with pytest.raises(ABCExportError, match=r"layer '1' \(QuantLinear\).*ABCWeightPerChannelFloat"):
        brevitas_export_qonnx(model.eval(), args=x, export_path=str(tmp_path / "stock.onnx"))
    assert model(x).shape == (2, 10)  # the model still runs after the refused export


def test_brevitas_export_of_abc_layers_names_the_layer(tmp_path):
    """The same guard for brevitas_abc's own ABCConv2d / ABCLinear (before: an opaque torch.export failure)."""
    model = brevitas_abc.swap(nn.Sequential(nn.Conv2d(1, 4, 3), ExactBatchNorm2d(4), nn.Conv2d(4, 4, 3), nn.Flatten(),
                                            nn.Linear(4 * 24 * 24, 10)), brevitas_abc.ABCConfig(), verbose=False)
    x, _ = mnist_tensors("test", 2)
    with pytest.raises(ABCExportError, match=r"layer '2' \(ABCConv2d\).*brevitas_abc\.export_qonnx"):
        brevitas_export_qonnx(model.eval(), args=x, export_path=str(tmp_path / "stock.onnx"))
