"""``int_weight_conv2d``: a float ``nn.Conv2d`` -> a stock Brevitas ``QuantConv2d`` with b-bit integer weights.

    y = conv(x, s * clamp(round(W / s), -2^(b-1), 2^(b-1) - 1)) + bias,    s from max |W| (learned)

(Brevitas's ``Int8WeightPerTensorFloat`` with ``weight_bit_width = b``: one scale per tensor from the weight
statistics, straight-through gradient.) Group-Net keeps its stem float (the paper's first layer); on 8-bit pixels
an integer-weight stem is what FINN builds as an integer MVAU, so a block/group-mode Group-Net with integer
residual streams (``brevitas_abc.nn.group_net.residual``) becomes integer from the pixels to the pooled features.
"""
import torch
from brevitas.nn import QuantConv2d
from brevitas.quant import Int8WeightPerTensorFloat
from torch import nn


def int_weight_conv2d(conv: nn.Conv2d, bits: int = 8) -> QuantConv2d:
    """A ``QuantConv2d`` with ``conv``'s shape, weights and bias and ``bits``-bit integer weights (2..8).

    >>> layer = int_weight_conv2d(nn.Conv2d(3, 4, 3, padding=1), bits=8)
    >>> layer(torch.randn(1, 3, 5, 5)).shape
    torch.Size([1, 4, 5, 5])
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits={bits!r} is not allowed: expected an int in [2, 8] (signed integer weights)")
    if type(conv) is not nn.Conv2d or isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise ValueError(f"conv={conv!r} is not allowed: expected a plain nn.Conv2d with int zero padding")
    layer = QuantConv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                        padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=conv.bias is not None,
                        weight_quant=Int8WeightPerTensorFloat, weight_bit_width=bits)
    with torch.no_grad():
        layer.weight.copy_(conv.weight)
        if conv.bias is not None:
            layer.bias.copy_(conv.bias)
    return layer.to(conv.weight.device)
