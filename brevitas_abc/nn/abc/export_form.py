"""The export form of a trained ABC layer, built only from stock Brevitas layers and explicit constant ops.

``Conv(W, x) ~ sum_m sum_n alpha_m beta_n Conv(B_m, H_{v_n}(x)) + bias`` (ABC-Net eq. 10), one branch per
(m, n): ``Add(v_n - 0.5) -> BipolarQuant(scale 1) [-> Pad(binary_padding)] -> Conv(BipolarQuant(B_m), scale 1)
-> Mul(alpha_m beta_n)``, summed with ``Add``. This exports to standard QONNX (``BipolarQuant``, ``Add``,
``Mul``, ``Pad``, ``Conv``/``MatMul``) and executes exactly like the trained layer.
"""
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from torch import Tensor, nn

from brevitas_abc.nn.constant_ops import AddConstant, MulConstant, channel_shaped


class BipolarActBranch(nn.Sequential):
    """``H_v(x) = sign(x + v - 0.5)`` as ``AddConstant -> QuantIdentity(binary, scale 1)``, then optional padding."""

    def __init__(self, shift: float, pads: tuple[int, int, int, int] | None, pad_value: float):
        modules = [AddConstant(torch.tensor(shift - 0.5)), QuantIdentity(act_quant=SignedBinaryActPerTensorConst)]
        if pads is not None and any(pads):
            modules.append(nn.ConstantPad2d(pads, pad_value))
        super().__init__(*modules)


def binary_weight_layer(template: nn.Module, base: Tensor, padding) -> nn.Module:
    """A stock ``QuantConv2d``/``QuantLinear`` whose weight is the +-1 base ``B_m`` (BipolarQuant, scale 1)."""
    common = dict(bias=False, weight_quant=SignedBinaryWeightPerTensorConst, weight_scaling_const=1.0)
    if isinstance(template, nn.Conv2d):
        layer = QuantConv2d(template.in_channels, template.out_channels, template.kernel_size,
                            stride=template.stride, padding=padding, dilation=template.dilation,
                            groups=template.groups, **common)
    else:
        layer = QuantLinear(template.in_features, template.out_features, **common)
    with torch.no_grad():
        layer.weight.copy_(base)
    return layer


class ABCExportLayer(nn.Module):
    """M*N binary branches with constant coefficients; see the module docstring.

    Args:
        act_branches: N ``BipolarActBranch`` modules, or empty for full-precision activations.
        weight_branches: M binary ``QuantConv2d``/``QuantLinear`` layers.
        coefficients: ``[M, N', C]`` per-output-channel ``alpha_m * beta_n`` (N' = 1 without act branches).
        bias: ``[C]`` or None.
        is_conv: output layout, ``[B, C, H, W]`` (True) or ``[B, C]``.
    """

    def __init__(self, act_branches: list[nn.Module], weight_branches: list[nn.Module], coefficients: Tensor,
                 bias: Tensor | None, is_conv: bool):
        super().__init__()
        self.act_branches = nn.ModuleList(act_branches)
        self.weight_branches = nn.ModuleList(weight_branches)
        self.scales = nn.ModuleList(
            MulConstant(channel_shaped(coefficients[m, n], is_conv))
            for m in range(coefficients.shape[0]) for n in range(coefficients.shape[1]))
        self.bias = AddConstant(channel_shaped(bias, is_conv)) if bias is not None else None

    def forward(self, x: Tensor) -> Tensor:
        inputs = [branch(x) for branch in self.act_branches] or [x]
        terms = []
        for m, weight_branch in enumerate(self.weight_branches):
            for n, h in enumerate(inputs):
                terms.append(self.scales[m * len(inputs) + n](weight_branch(h)))
        out = terms[0]
        for term in terms[1:]:
            out = out + term
        return self.bias(out) if self.bias is not None else out
