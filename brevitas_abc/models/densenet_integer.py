"""The integer form of an LBC DenseNet-BC: every concatenated stream is an integer times ONE scale per dense block.

DenseNet (Huang et al. 2017) concatenates each dense layer's ``k`` new feature maps to its input,
``x_{l+1} = concat(x_l, H_l(x_l))``, and FINN joins streams with ``StreamingConcat`` (integer streams only). A
``Concat`` whose inputs carry different float scales does not streamline (FINN issue 954): the scales cannot move
past it into the next thresholds. So, as Group-Net's ``residual_bits`` does for residual adds
(``brevitas_abc.nn.group_net.residual``), every piece a dense block concatenates goes through ONE stream quantiser
``Q_b`` per block (a stock Brevitas ``QuantIdentity``: signed ``stream_bits``-bit integers times a learned
power-of-two scale ``s_b``):

    x_0   = Q_b(block input)                          (the stem's ReLU output, or the transition's pooled output)
    x_l+1 = concat(x_l, Q_b(H_l(x_l)))                 = s_b * concat(n_l, m_l),  n_l, m_l integers

so every concatenation joins integer streams with the same scale, FINN moves ``Mul(s_b)`` past it exactly
(``MoveMulPastJoinConcat``) and absorbs it into the next thresholds. Inside ``H_l`` (the bottleneck
``BN -> ReLU -> 1x1 conv -> BN -> ReLU -> 3x3 conv``) and the transitions (``BN -> ReLU -> 1x1 conv -> avgpool 2``)

* every ReLU is a ``QuantReLU`` (``act_bit_width`` bits: UINT streams into the convolutions),
* the 1x1 convolutions, the stem and the "normal" half of a fused LBC conv have integer weights
  (``int_weight_conv2d``: ``weight_bits``, the stem ``stem_bits``),
* the LBC convolution is the integer LBC layer of ``brevitas_abc.nn.lbc.integer`` (ternary anchors, a quantised ReLU,
  a binary pointwise conv ``diag(alpha) sign(V)``); a fused conv (poster Figure 2: half normal, half LBC) quantises
  each half with ``Q_b`` before joining them, so that concatenation joins integer streams as well.

The transition's average pooling follows a 1x1 convolution; finn_flow folds the two into one 2x2 stride-2
convolution with the 1x1 weights repeated (``conv1x1`` then ``avgpool2`` is ``(1/4) sum`` over the window of the
same integer products), so no pooling of an unquantised tensor remains in hardware. Global pooling reads the last
``QuantReLU`` (integers) and the classifier runs on the host.
"""
from brevitas.nn import QuantReLU
from torch import Tensor, nn

from brevitas_abc.models.densenet import DenseLayer, DenseNet, Transition
from brevitas_abc.models.registry import register_model
from brevitas_abc.nn.group_net.residual import residual_quant
from brevitas_abc.nn.int_weight_conv import int_weight_conv2d
from brevitas_abc.nn.lbc.fused import FusedLBConv2d
from brevitas_abc.nn.lbc.layers import LBConv2d


class QuantisedHalvesConcat(nn.Module):
    """``concat(Q(normal(x)), Q(lbc(x)))``: a fused LBC conv whose two halves share the stream quantiser ``Q``."""

    def __init__(self, normal: nn.Module, lbc: LBConv2d, quant: nn.Module):
        super().__init__()
        self.normal, self.lbc, self.quant = normal, lbc, quant

    def forward(self, x: Tensor) -> Tensor:
        import torch

        return torch.cat([self.quant(self.normal(x)), self.quant(self.lbc(x))], dim=1)


def _check_bits(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name}={value!r} is not allowed: expected an int in [{low}, {high}]")
    return value


def _check_integer_lbc(name: str, layer: LBConv2d) -> None:
    if layer.activation_kind != "quant_relu" or layer.pointwise_kind != "binary" or layer.bias is not None:
        raise ValueError(
            f"{name} (LBConv2d with activation={layer.activation_kind!r}, pointwise={layer.pointwise_kind!r}, "
            f"bias={layer.bias is not None}) is not allowed in an integer DenseNet: expected activation='quant_relu', "
            "pointwise='binary', bias=False (build the DenseNet with those LBC options)")


def _integer_conv2(name: str, conv2: nn.Module, quant: nn.Module, weight_bits: int) -> nn.Module:
    if isinstance(conv2, LBConv2d):
        _check_integer_lbc(name, conv2)
        return nn.Sequential(conv2, quant)
    if isinstance(conv2, FusedLBConv2d):
        _check_integer_lbc(f"{name}.lbc", conv2.lbc)
        return QuantisedHalvesConcat(int_weight_conv2d(conv2.normal, weight_bits), conv2.lbc, quant)
    if type(conv2) is nn.Conv2d:
        return nn.Sequential(int_weight_conv2d(conv2, weight_bits), quant)
    raise ValueError(f"{name} of type {type(conv2).__name__} is not allowed: expected nn.Conv2d, LBConv2d or "
                     "FusedLBConv2d")


def integer_densenet(model: DenseNet, *, stream_bits: int = 4, act_bit_width: int = 2, weight_bits: int = 4,
                     stem_bits: int = 8) -> DenseNet:
    """In place: ``model`` (a CIFAR-stem ``DenseNet``) in the integer form of the module docstring; returns it.

    Args:
        model: a ``DenseNet`` with ``cifar_stem=True`` whose LBC layers (``lbc="full"``/``"fused"``) were built with
            ``activation="quant_relu"``, ``pointwise="binary"`` (``densenet_bc_cifar_integer`` does both).
        stream_bits: bits of the concatenated streams (signed, one power-of-two scale per dense block), 2..8.
        act_bit_width: bits of every ``QuantReLU`` (the streams into the convolutions), 2..8.
        weight_bits: bits of the 1x1 convolutions' and the fused convs' normal halves' integer weights, 2..8.
        stem_bits: bits of the stem convolution's integer weights, 2..8.

    >>> import torch
    >>> net = densenet_bc_cifar_integer(depth=10, growth_rate=4, bn_size=2, num_anchors=4)
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> net.stream_bits
    4
    """
    for name, value in (("stream_bits", stream_bits), ("act_bit_width", act_bit_width), ("weight_bits", weight_bits), ("stem_bits", stem_bits)):
        _check_bits(name, value, 2, 8)
    if not isinstance(model, DenseNet) or "pool0" in model.features._modules:
        raise ValueError(f"model of type {type(model).__name__} is not allowed: expected a DenseNet with "
                         "cifar_stem=True (no max-pooling stem)")
    features = model.features
    features.conv0 = int_weight_conv2d(features.conv0, stem_bits)
    quant = residual_quant(stream_bits)
    features.relu0 = nn.Sequential(features.relu0, quant)
    for name, child in list(features.named_children()):
        if name.startswith("denseblock"):
            for layer_name, layer in child.named_children():
                if not isinstance(layer, DenseLayer):
                    raise ValueError(f"features.{name}.{layer_name} of type {type(layer).__name__} is not allowed: "
                                     "expected a DenseLayer")
                layer.relu1 = QuantReLU(bit_width=act_bit_width)
                layer.conv1 = int_weight_conv2d(layer.conv1, weight_bits)
                layer.relu2 = QuantReLU(bit_width=act_bit_width)
                layer.conv2 = _integer_conv2(f"features.{name}.{layer_name}.conv2", layer.conv2, quant, weight_bits)
        elif isinstance(child, Transition):
            child.relu = QuantReLU(bit_width=act_bit_width)
            child.conv = int_weight_conv2d(child.conv, weight_bits)
            quant = residual_quant(stream_bits)  # the next block's stream
            child.add_module("stream_quant", quant)
    model.relu = QuantReLU(bit_width=act_bit_width)
    model.stream_bits = stream_bits  # marks the integer form (finn_flow.checks.check_torch_model reads it)
    return model


@register_model
def densenet_bc_cifar_integer(num_classes: int = 10, depth: int = 40, growth_rate: int = 12, lbc: str = "full",
                              stream_bits: int = 4, act_bit_width: int = 2, weight_bits: int = 4, stem_bits: int = 8,
                              **kwargs) -> DenseNet:
    """``densenet_bc_cifar`` with integer LBC layers (``lbc="full"`` or ``"fused"``) in the integer form of this
    module (``integer_densenet``): what ``finn_flow.build`` lowers, dense connections as ``StreamingConcat``.
    ``kwargs``: ``bn_size``, ``compression``, ``num_anchors``, ``density``, ``seed`` (see ``DenseNet``)."""
    from brevitas_abc.models.densenet import densenet_bc_cifar

    if lbc not in ("full", "fused"):
        raise ValueError(f"lbc={lbc!r} is not allowed: expected 'full' or 'fused' (an integer LBC DenseNet)")
    model = densenet_bc_cifar(num_classes, depth, growth_rate, lbc=lbc, activation="quant_relu",
                              act_bit_width=act_bit_width, pointwise="binary", **kwargs)
    return integer_densenet(model, stream_bits=stream_bits, act_bit_width=act_bit_width, weight_bits=weight_bits,
                            stem_bits=stem_bits)
