"""brevitas_abc.quant.binary_padding: a padded Brevitas QuantConv2d with an ABC input quantiser pads each binary
activation base with binary_padding (+1 by default, as ABCConv2d), bit for bit ABCConv2d's forward on real images,
and its export (brevitas_abc.export_qonnx) keeps the padding."""
import copy
import functools

import onnx
import pytest
import torch
from brevitas.nn import QuantConv2d
from torch import nn

import brevitas_abc
from brevitas_abc import ABCConv2d
from brevitas_abc.nn import ExactBatchNorm2d
from brevitas_abc.quant import ABCActPerTensorFloat, ABCWeightPerChannelFloat
from brevitas_abc.quant.binary_padding import BinaryPaddedConvForward
from brevitas_abc.quant.to_abc_layer import to_abc_layer
from tests.conftest import cifar_normalised as _cifar_normalised


@functools.cache
def cifar_normalised(per_class):
    return _cifar_normalised(per_class)


def hosted_conv(cin=3, cout=8, k=3, padding=1, bias=True, **options) -> QuantConv2d:
    """ABC(3, 3) at 4-bit coefficients in a stock QuantConv2d (integer sums: exact in any order)."""
    return QuantConv2d(cin, cout, k, padding=padding, bias=bias, weight_quant=ABCWeightPerChannelFloat,
                       weight_num_bases=3, weight_coefficient_bits=4, input_quant=ABCActPerTensorFloat,
                       input_num_bases=3, input_coefficient_bits=4, **options)


def abc_twin(layer: QuantConv2d, binary_padding: float) -> ABCConv2d:
    twin = ABCConv2d._like(layer, num_weight_bases=3, num_act_bases=3, coefficient_bits=4,
                           binary_padding=binary_padding)
    with torch.no_grad():
        twin.weight.copy_(layer.weight)
        twin.bias.copy_(layer.bias)
    return twin


@pytest.mark.exact
@pytest.mark.parametrize("option,padding", [(None, 1.0), (-1.0, -1.0), (0.0, 0.0)])
def test_padded_quant_conv_equals_abc_conv_bit_for_bit_on_real_images(option, padding):
    torch.manual_seed(0)
    x = cifar_normalised(2)  # 20 real CIFAR-10 test images
    layer = hosted_conv(**({} if option is None else {"input_binary_padding": option}))
    assert layer.input_quant.binary_padding == padding
    out = layer(x)
    assert torch.equal(out, abc_twin(layer, padding)(x))
    if padding != 0:  # what a zero-padding conv computes differs, on the border only
        zero_padded = abc_twin(layer, 0.0)(x)
        differs = (out != zero_padded).any(dim=(0, 1))
        assert differs[0].any() and differs[-1].any() and not differs[1:-1, 1:-1].any()


def test_binary_padding_is_validated_and_named():
    with pytest.raises(ValueError, match=r"binary_padding=0\.5 is not allowed: expected one of \(-1\.0, 0\.0, 1\.0\)"):
        hosted_conv(input_binary_padding=0.5)


def test_same_padding_with_stride_is_refused_naming_the_layer():
    layer = hosted_conv(padding="same", stride=2)
    with pytest.raises(ValueError, match=r"QuantConv2d with an ABC input quantiser: padding='same' with stride"):
        layer(torch.zeros(1, 3, 8, 8))


def test_unpadded_conv_and_abc_output_quantiser_are_plain_convs():
    torch.manual_seed(0)
    x = cifar_normalised(1)
    assert hosted_conv(padding=0)(x).shape == (10, 8, 30, 30)
    # an ABC quantiser on the output is not read by this conv: no binary padding of the conv's input
    layer = QuantConv2d(3, 8, 3, padding=1, bias=False, weight_quant=ABCWeightPerChannelFloat,
                        output_quant=ABCActPerTensorFloat)
    w_hat = layer.quant_weight()
    reference = layer.output_quant(nn.functional.conv2d(x, w_hat, None, 1, 1))
    assert torch.equal(layer(x), reference)


def test_copies_pad_with_their_own_layer():
    torch.manual_seed(0)
    layer = hosted_conv()
    clone = copy.deepcopy(layer)
    assert isinstance(vars(clone)["inner_forward_impl"], BinaryPaddedConvForward)
    assert vars(clone)["inner_forward_impl"].layer is clone
    with torch.no_grad():
        clone.bias.add_(1.0)
    x = cifar_normalised(1)
    assert torch.equal(clone(x), abc_twin(clone, 1.0)(x)) and torch.equal(layer(x), abc_twin(layer, 1.0)(x))
    assert not torch.equal(clone(x), layer(x))


@pytest.mark.slow
def test_export_keeps_plus_one_padding_exactly(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(hosted_conv(bias=False), ExactBatchNorm2d(8), nn.MaxPool2d(2),
                          hosted_conv(8, 8, 3, bias=False), ExactBatchNorm2d(8)).eval()
    assert to_abc_layer(model[3]).abc_options.binary_padding == 1.0
    x = cifar_normalised(2)
    report = brevitas_abc.export_qonnx(model, x, tmp_path / "hosted.onnx")
    assert report.max_abs_diff == 0.0  # feature maps out: the same numbers, not just the same argmax
    graph = onnx.load(str(tmp_path / "hosted.onnx")).graph
    constants = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    pad_values = [float(constants[node.input[2]]) for node in graph.node if node.op_type == "Pad"]
    assert pad_values == [1.0] * 6  # one Pad per activation base of each padded conv
