"""``BinaryConv2d``: the binary convolution every Group-Net branch is made of (Zhuang et al., CVPR 2019).

    y = alpha * Conv(sign(W), pad_{+1}(sign(x + t)))          (alpha_c = mean |W_c|, per output channel)

- Activations: ``sign(x + t)`` (sign(0) = +1) with a learned per-input-channel threshold ``t`` (initialised
  0; a ReActNet-style "RSign" so that a non-negative input is not stuck at +1) and the clipped
  straight-through gradient ``1[|x + t| <= 1]``.
- Padding with +1 (the official code's ``F.pad(..., 1)``): padded inputs stay in {-1, +1}; zero padding would
  make the "binary" conv ternary (DESIGN 3).
- Weights: XNOR-Net style ``alpha_c sign(W_c)``, alpha per output channel and treated as a constant, with
  the identity STE through the sign (so ``dL/dW = alpha dL/dW_hat``; the official ``Q_W`` is per tensor).

Export form (stock Brevitas): ``Add(t) -> BipolarQuant -> Pad(+1) -> Conv(BipolarQuant(sign W)) -> Mul(alpha)
[-> Add(bias)]``, which executes exactly like the layer.
"""
import torch
import torch.nn.functional as F
from brevitas.nn import QuantIdentity
from brevitas.quant import SignedBinaryActPerTensorConst
from torch import Tensor, nn

from brevitas_abc.function.ste import sign_ste
from brevitas_abc.nn.abc.export_form import binary_weight_layer
from brevitas_abc.nn.constant_ops import AddConstant, MulConstant, channel_shaped
from brevitas_abc.nn.layer_counts import LayerCounts


def clipped_sign_ste(x: Tensor) -> Tensor:
    """``sign(x)`` (sign(0) = +1) forward; gradient ``1[|x| <= 1]`` (the hardtanh STE)."""
    return sign_ste(torch.clamp(x, -1.0, 1.0))


def channel_scale(weight: Tensor) -> Tensor:
    """``alpha_c = mean |W_c|`` per output channel, shape ``[C]``."""
    return weight.detach().abs().flatten(1).mean(1)


def residual_binary_weights(weight: Tensor, num_bases: int) -> list[Tensor]:
    """Latent weights ``W_1..W_K`` whose binary forms sum to a greedy approximation of ``weight``.

    ``W_1 = W``, ``W_{k+1} = W_k - alpha(W_k) sign(W_k)``, so ``sum_k alpha(W_k) sign(W_k)`` approximates ``W``
    with an error that shrinks with K. Initialises K Group-Net branches from one float weight.
    """
    weights, residual = [], weight.detach().clone()
    for _ in range(num_bases):
        weights.append(residual.clone())
        sign = torch.where(residual >= 0, 1.0, -1.0)
        residual = residual - channel_scale(residual).view(-1, *([1] * (weight.dim() - 1))) * sign
    return weights


def check_num_bases(num_bases) -> int:
    if isinstance(num_bases, bool) or not isinstance(num_bases, int) or num_bases < 1:
        raise ValueError(f"num_bases={num_bases!r} is not allowed: expected an int >= 1 (K, the number of "
                         "binary branches)")
    return num_bases


class BinaryConv2d(nn.Conv2d):
    """A binary-weight, binary-activation ``nn.Conv2d`` (see the module docstring); same constructor.

    >>> conv = BinaryConv2d(4, 8, 3, padding=1)
    >>> conv(torch.randn(2, 4, 6, 6)).shape
    torch.Size([2, 8, 6, 6])

    Implements ``brevitas_abc.nn.protocol.BinaryLayer`` (family ``"group_net"``, a single branch).
    """

    family = "group_net"
    decomposition = "layer"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=False, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros" or isinstance(padding, str):
            raise ValueError(f"padding_mode={padding_mode!r}, padding={padding!r} is not allowed for BinaryConv2d: "
                             "expected padding_mode='zeros' and int padding (inputs are padded with +1 explicitly)")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self.act_threshold = nn.Parameter(torch.zeros(in_channels))

    def _pads(self) -> tuple[int, int, int, int]:
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def binarize_input(self, x: Tensor) -> Tensor:
        """``pad_{+1}(sign(x + t))``: values in {-1, +1} including the border."""
        a = clipped_sign_ste(x + self.act_threshold.view(1, -1, 1, 1))
        return F.pad(a, self._pads(), value=1.0) if any(self._pads()) else a

    def binary_op(self, x: Tensor) -> Tensor:
        """``Conv(sign(W), pad_{+1}(sign(x + t)))``: the unscaled, integer-valued +-1 convolution."""
        return F.conv2d(self.binarize_input(x), sign_ste(self.weight), None, self.stride, 0, self.dilation,
                        self.groups)

    def forward(self, x: Tensor) -> Tensor:
        # alpha is applied AFTER the +-1 convolution (as in the export form): the integer-valued sum is exact,
        # so a sum that is 0 stays exactly 0 and the next sign takes the same decision in PyTorch and QONNX.
        out = self.binary_op(x) * channel_scale(self.weight).view(1, -1, 1, 1)
        return out if self.bias is None else out + self.bias.view(1, -1, 1, 1)

    @classmethod
    def from_float(cls, conv: nn.Conv2d, weight: Tensor | None = None) -> "BinaryConv2d":
        """A ``BinaryConv2d`` with ``conv``'s shape, its bias, and latent weight ``weight`` (default ``conv``'s)."""
        if isinstance(conv.padding, str):
            raise ValueError(f"padding={conv.padding!r} is not allowed: expected int padding")
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, conv.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(conv.weight if weight is None else weight)
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)
        return layer.to(conv.weight.device)

    @torch.no_grad()
    def binary_op_export_form(self) -> nn.Sequential:
        """``binary_op`` in stock Brevitas: ``Add(t) -> BipolarQuant [-> Pad(+1)] -> Conv(BipolarQuant(sign W))``."""
        modules = [AddConstant(self.act_threshold.detach().view(1, -1, 1, 1)),
                   QuantIdentity(act_quant=SignedBinaryActPerTensorConst)]
        if any(self._pads()):
            modules.append(nn.ConstantPad2d(self._pads(), 1.0))
        modules.append(binary_weight_layer(self, torch.where(self.weight >= 0, 1.0, -1.0), 0))
        return nn.Sequential(*modules)

    @torch.no_grad()
    def to_export_form(self, extra_scale: Tensor | None = None) -> nn.Sequential:
        """Stock-Brevitas form; ``extra_scale`` (a branch's lambda) multiplies the output last.

        The constants are applied in the forward's order (``Mul(alpha)``, ``Add(bias)``, ``Mul(lambda)``), not
        folded, so every float rounding matches and the next sign decides identically.
        """
        modules = list(self.binary_op_export_form())
        modules.append(MulConstant(channel_shaped(channel_scale(self.weight), True)))
        if self.bias is not None:
            modules.append(AddConstant(channel_shaped(self.bias.detach(), True)))
        if extra_scale is not None:
            modules.append(MulConstant(extra_scale.detach().reshape(1, 1, 1, 1)))
        return nn.Sequential(*modules)

    def summary_counts(self) -> LayerCounts:
        return binary_layer_counts(self)

    def latent_weights(self) -> list[nn.Parameter]:
        """The latent real weight ``W`` behind ``sign(W)``."""
        return [self.weight]


def binary_layer_counts(layer: nn.Module) -> LayerCounts:
    """Summary counts of a ``BinaryConv2d``/``BinaryLinear``: 1-bit weights; float alpha per output, one threshold
    per input and the bias; the float-equivalent size is the weight plus the bias."""
    out_size, in_size = layer.weight.shape[0], layer.act_threshold.numel()
    bias = 0 if layer.bias is None else layer.bias.numel()
    learned = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    return LayerCounts(learned=learned, binary_bits=layer.weight.numel(), float_values=out_size + in_size + bias,
                       conv_equivalent=layer.weight.numel() + bias)


class BinaryLinear(nn.Linear):
    """The fully connected counterpart of ``BinaryConv2d``: ``y = alpha * (sign(W) sign(x + t)) + b``.

    >>> BinaryLinear(16, 4)(torch.randn(3, 16)).shape
    torch.Size([3, 4])
    """

    family = "group_net"
    decomposition = "layer"

    def __init__(self, in_features: int, out_features: int, bias: bool = False, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device, dtype)
        self.act_threshold = nn.Parameter(torch.zeros(in_features))

    def binarize_input(self, x: Tensor) -> Tensor:
        return clipped_sign_ste(x + self.act_threshold)

    def binary_op(self, x: Tensor) -> Tensor:
        """``sign(W) sign(x + t)``: the unscaled, integer-valued +-1 product."""
        return F.linear(self.binarize_input(x), sign_ste(self.weight))

    def forward(self, x: Tensor) -> Tensor:
        out = self.binary_op(x) * channel_scale(self.weight)
        return out if self.bias is None else out + self.bias

    @classmethod
    def from_float(cls, linear: nn.Linear, weight: Tensor | None = None) -> "BinaryLinear":
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(linear.weight if weight is None else weight)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer.to(linear.weight.device)

    @torch.no_grad()
    def binary_op_export_form(self) -> nn.Sequential:
        """``binary_op`` in stock Brevitas: ``Add(t) -> BipolarQuant -> MatMul(BipolarQuant(sign W))``."""
        return nn.Sequential(AddConstant(self.act_threshold.detach().view(1, -1)),
                             QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
                             binary_weight_layer(self, torch.where(self.weight >= 0, 1.0, -1.0), None))

    @torch.no_grad()
    def to_export_form(self, extra_scale: Tensor | None = None) -> nn.Sequential:
        """``Add(t) -> BipolarQuant -> MatMul(BipolarQuant(sign W)) -> Mul(alpha) [-> Add(b)] [-> Mul(lambda)]``."""
        modules = list(self.binary_op_export_form())
        modules.append(MulConstant(channel_shaped(channel_scale(self.weight), False)))
        if self.bias is not None:
            modules.append(AddConstant(channel_shaped(self.bias.detach(), False)))
        if extra_scale is not None:
            modules.append(MulConstant(extra_scale.detach().reshape(1, 1)))
        return nn.Sequential(*modules)

    def summary_counts(self) -> LayerCounts:
        return binary_layer_counts(self)

    def latent_weights(self) -> list[nn.Parameter]:
        """The latent real weight ``W`` behind ``sign(W)``."""
        return [self.weight]
