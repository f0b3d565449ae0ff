"""``FusedLBConv2d``: the poster's "fused" (half normal, half LBC) convolution (seed 000, Figure 2, right).

    y = concat(Conv_W(x), LBC(x))

The ``q`` output channels are split: ``q - q//2`` come from an ordinary learned conv, ``q//2`` from an
``LBConv2d`` with the same kernel/stride/padding. It trades accuracy against learned parameters between
the float layer and the "full" LBC layer (poster Table 1: DenseNet-121 6.8 M, fused 5.8 M, full 4.7 M).
"""
import copy

import torch
from torch import Tensor, nn

from brevitas_abc.nn.layer_counts import LayerCounts, float_counts
from brevitas_abc.nn.lbc.layers import LBConv2d


class _Concat(nn.Module):
    """``concat(a(x), b(x))`` along channels (the export form keeps this structure; it exports as ``Concat``)."""

    def __init__(self, normal: nn.Module, lbc: nn.Module):
        super().__init__()
        self.normal, self.lbc = normal, lbc

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.normal(x), self.lbc(x)], dim=1)


class FusedLBConv2d(_Concat):
    """Half ``nn.Conv2d``, half ``LBConv2d`` (see the module docstring).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, bias: as ``nn.Conv2d``; ``out_channels >= 2``.
        **lbc_kwargs: ``LBConv2d`` options (num_anchors, density, seed, ...).

    >>> layer = FusedLBConv2d(16, 6, 3, padding=1, num_anchors=8)
    >>> layer(torch.randn(1, 16, 5, 5)).shape, layer.normal.out_channels, layer.lbc.out_channels
    (torch.Size([1, 6, 5, 5]), 3, 3)

    Implements ``brevitas_abc.nn.protocol.BinaryLayer`` (family ``"lbc"``).
    """

    family = "lbc"
    decomposition = "layer"

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1, bias: bool = False,
                 **lbc_kwargs):
        if isinstance(out_channels, bool) or not isinstance(out_channels, int) or out_channels < 2:
            raise ValueError(f"out_channels={out_channels!r} is not allowed for FusedLBConv2d: expected an int >= 2 "
                             "(half the channels come from each half)")
        normal = nn.Conv2d(in_channels, out_channels - out_channels // 2, kernel_size, stride, padding, bias=bias)
        lbc = LBConv2d(in_channels, out_channels // 2, kernel_size, stride, padding, bias=bias, **lbc_kwargs)
        super().__init__(normal, lbc)
        self.in_channels, self.out_channels = in_channels, out_channels

    @torch.no_grad()
    def to_export_form(self) -> nn.Module:
        return _Concat(copy.deepcopy(self.normal), self.lbc.to_export_form())

    def latent_weights(self) -> list[nn.Parameter]:
        """The LBC half's latent binary weights (the normal half is float)."""
        return self.lbc.latent_weights()

    def summary_counts(self) -> LayerCounts:
        """The float half's counts plus the LBC half's; the float equivalent is the whole ``p -> q`` conv."""
        counts = float_counts(self.normal)
        counts += self.lbc.summary_counts()
        p, (h, w), q = self.in_channels, self.lbc.kernel_size, self.out_channels
        counts.conv_equivalent = p * h * w * q + (q if self.lbc.bias is not None else 0)
        return counts
