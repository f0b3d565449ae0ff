"""``LBConv2d``: Local Binary Convolution (Juefei-Xu, Boddeti, Savvides, CVPR 2017; seed 000).

    y = V * sigma(B * x) + b

``B``: m fixed sparse ternary anchor filters ``[m, p, h, w]`` (values {-1, 0, +1}, a buffer: in the state
dict, never trained, never reached by a gradient); ``sigma``: ReLU, or a quantised ReLU for hardware;
``V``: a learned 1x1 convolution ``m -> q`` (float, binary or ABC-quantised), with the bias ``b``.

Parameters (the poster's eq. (1)): a ``p -> q`` ``h x w`` conv learns ``p*h*w*q`` weights, an LBC layer
``m*q``; the ratio is ``p*h*w*q / (m*q) = p*h*w / m`` (with ``m = p`` it saves ``h*w`` x). The poster prints
eq. (1) as ``p*h*w*q / m``, which contradicts its own "m = p saves h*w"; we report ``p*h*w / m``.
"""
import copy

import torch
import torch.nn.functional as F
from brevitas.nn import QuantReLU
from torch import Tensor, nn
from torch.nn.modules.utils import _pair

from brevitas_abc.nn.abc.layers import ABCConv2d
from brevitas_abc.nn.layer_counts import LayerCounts, layer_counts, learned_count
from brevitas_abc.nn.lbc.anchors import check_density, check_num_anchors, check_seed, sample_anchors
from brevitas_abc.nn.lbc.export_form import LBCExportLayer, ternary_anchor_conv

ACTIVATIONS = ("relu", "quant_relu")
POINTWISE_KINDS = ("float", "binary", "abc")


def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed: expected one of {allowed}")


class LBConv2d(nn.Module):
    """Local Binary Convolution layer, a drop-in for a ``p -> q`` ``h x w`` ``nn.Conv2d``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, bias: as ``nn.Conv2d`` (the anchor
            convolution carries kernel/stride/padding/dilation; ``padding=None`` means ``kernel_size // 2``).
        num_anchors: m, the number of anchor filters (int >= 1); None means m = in_channels.
        density: fraction of non-zero anchor entries, in (0, 1]; each filter has exactly
            ``max(1, round(density * p*h*w))`` non-zeros, sampled without replacement.
        seed: int >= 0 seeding the anchors (same seed, same anchors, in every process).
        mirror_anchors: make the second half of the anchors the negation of the first (m even); with it an
            LBC layer can represent the linear maps spanned by the anchors exactly (see ``from_float``).
        activation: "relu" (float) or "quant_relu" (Brevitas ``QuantReLU`` with ``act_bit_width`` bits).
        act_bit_width: bits of the quantised ReLU (2..8).
        pointwise: the learned 1x1 conv: "float" (``nn.Conv2d``), "binary" (``ABCConv2d`` with one weight
            base and full-precision input, i.e. per-channel scaled sign weights) or "abc" (``ABCConv2d``
            configured by ``pointwise_options``, default M=3, N=3).
        pointwise_options: keyword options for the ABC pointwise conv (see ``ABCLayerOptions``).

    >>> layer = LBConv2d(3, 8, 3, num_anchors=16, density=0.5, seed=1)
    >>> layer(torch.randn(2, 3, 8, 8)).shape
    torch.Size([2, 8, 8, 8])
    >>> sum(p.numel() for p in layer.parameters()), layer.anchors.numel()
    (136, 432)

    Implements ``brevitas_abc.nn.protocol.BinaryLayer`` (family ``"lbc"``).
    """

    family = "lbc"
    decomposition = "layer"

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=None, dilation=1,
                 bias: bool = True, *, num_anchors: int | None = None, density: float = 0.5, seed: int = 0,
                 mirror_anchors: bool = False, activation: str = "relu", act_bit_width: int = 4,
                 pointwise: str = "float", pointwise_options: dict | None = None):
        super().__init__()
        num_anchors = in_channels if num_anchors is None else num_anchors
        check_num_anchors(num_anchors, mirror_anchors)
        check_density(density)
        check_seed(seed)
        _check_choice("activation", activation, ACTIVATIONS)
        _check_choice("pointwise", pointwise, POINTWISE_KINDS)
        if isinstance(act_bit_width, bool) or not isinstance(act_bit_width, int) or not 2 <= act_bit_width <= 8:
            raise ValueError(f"act_bit_width={act_bit_width!r} is not allowed: expected an int in [2, 8]")
        if pointwise != "abc" and pointwise_options:
            raise ValueError(f"pointwise_options={pointwise_options!r} is not allowed with pointwise={pointwise!r}: "
                             "options are only used by pointwise='abc'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.dilation = _pair(stride), _pair(dilation)
        self.padding = tuple(k // 2 for k in self.kernel_size) if padding is None else _pair(padding)
        self.num_anchors, self.density, self.seed = num_anchors, float(density), seed
        self.mirror_anchors, self.activation_kind, self.pointwise_kind = mirror_anchors, activation, pointwise
        self.register_buffer("anchors", sample_anchors(num_anchors, in_channels, self.kernel_size, density, seed,
                                                       mirror_anchors))
        self.activation = nn.ReLU() if activation == "relu" else QuantReLU(bit_width=act_bit_width)
        if pointwise == "float":
            self.pointwise = nn.Conv2d(num_anchors, out_channels, 1, bias=bias)
        else:
            options = dict(num_weight_bases=1, num_act_bases=None) if pointwise == "binary" else \
                dict(pointwise_options or {})
            self.pointwise = ABCConv2d(num_anchors, out_channels, 1, bias=bias, **options)

    @property
    def bias(self) -> Tensor | None:
        return self.pointwise.bias

    def anchor_response(self, x: Tensor) -> Tensor:
        """``B * x``: the fixed ternary convolution (no gradient reaches ``anchors``: it is a buffer)."""
        return F.conv2d(x, self.anchors, None, self.stride, self.padding, self.dilation)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.activation(self.anchor_response(x)))

    @torch.no_grad()
    def to_export_form(self) -> LBCExportLayer:
        """Stock Brevitas form: ternary 2-bit ``QuantConv2d`` anchors, activation, pointwise export form."""
        pointwise = self.pointwise.to_export_form() if hasattr(self.pointwise, "to_export_form") else \
            copy.deepcopy(self.pointwise)
        anchor_conv = ternary_anchor_conv(self.anchors, self.stride, self.padding, self.dilation)
        return LBCExportLayer(anchor_conv, self.activation, pointwise)

    @classmethod
    def from_float(cls, conv: nn.Conv2d, **lbc_kwargs) -> "LBConv2d":
        """An LBC layer with ``conv``'s shape, its bias, and 1x1 weights fitted to its float weight.

        With anchors ``B`` (flattened ``[m, p*h*w]``) and float weight ``W`` (``[q, p*h*w]``), the pointwise
        weight is the least-squares fit ``V = W B^+`` of the linear part ``V B ~ W``. With
        ``mirror_anchors=True`` it is ``[V', -V']`` with ``V' = W B'^+``, and the layer computes EXACTLY the
        conv with weight ``V' B'`` (the projection of ``W`` onto the anchors' row space; equal to ``W`` when
        ``m/2 >= p*h*w`` and the anchors have full rank). Without mirroring, the ReLU makes it approximate.
        """
        if conv.groups != 1:
            raise ValueError(f"groups={conv.groups} is not allowed for LBConv2d.from_float: expected 1")
        if isinstance(conv.padding, str):
            raise ValueError(f"padding={conv.padding!r} is not allowed for LBConv2d.from_float: expected ints")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.bias is not None, **lbc_kwargs)
        with torch.no_grad():
            w = conv.weight.detach().flatten(1).double()
            anchors = layer.anchors.flatten(1).double()
            if layer.mirror_anchors:
                v_half = w @ torch.linalg.pinv(anchors[: layer.num_anchors // 2])
                v = torch.cat([v_half, -v_half], dim=1)
            else:
                v = w @ torch.linalg.pinv(anchors)
            layer.pointwise.weight.copy_(v.float().view_as(layer.pointwise.weight))
            if conv.bias is not None:
                layer.pointwise.bias.copy_(conv.bias)
        return layer.to(conv.weight.device)

    def latent_weights(self) -> list[nn.Parameter]:
        """The pointwise conv's latent binary weights (``pointwise="binary"`` or ``"abc"``); none for a float
        pointwise conv. The anchors are fixed ternary values, not latent weights."""
        return self.pointwise.latent_weights() if callable(getattr(self.pointwise, "latent_weights", None)) else []

    def summary_counts(self) -> LayerCounts:
        """Ternary anchors (2 bits each, fixed), the pointwise conv's own counts, the quantised ReLU's scale;
        ``ratio = p*h*w / m`` (the poster's eq. (1), see the module docstring)."""
        counts = layer_counts(self.pointwise)
        counts.learned += learned_count(self.activation)
        counts.float_values += sum(p.numel() for p in self.activation.parameters())
        counts.fixed += self.anchors.numel()
        counts.binary_bits += 2 * self.anchors.numel()
        p, (h, w), q = self.in_channels, self.kernel_size, self.out_channels
        counts.conv_equivalent = p * h * w * q + (q if self.bias is not None else 0)
        counts.ratio = p * h * w / self.num_anchors
        return counts

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, num_anchors={self.num_anchors}, density={self.density}, seed={self.seed}"
                f"{', mirror_anchors=True' if self.mirror_anchors else ''}")
