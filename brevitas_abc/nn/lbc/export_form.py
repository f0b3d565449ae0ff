"""The export form of an LBC layer, built from stock Brevitas layers only.

Anchors are ternary, not bipolar (DESIGN 2): in QONNX they are 2-bit narrow-range integer weights
(``Quant(bit_width=2, narrow_range=1, scale=1)``, integer range {-1, 0, +1}), NOT ``BipolarQuant``.
The layer exports as ``Conv(Quant(anchors)) -> Relu [-> Quant] -> pointwise`` where the pointwise part is a
float ``Conv`` or an ABC export form.
"""
import copy

import torch
from brevitas.core.scaling import ScalingImplType
from brevitas.nn import QuantConv2d
from brevitas.quant import Int8WeightPerTensorFloat
from torch import Tensor, nn


class TernaryWeightPerTensorConst(Int8WeightPerTensorFloat):
    """Signed 2-bit narrow-range weight quantiser with constant scale 1: values {-1, 0, +1} exactly.

    Exports as QONNX ``Quant(x, scale=1, zero_point=0, bit_width=2)`` with ``narrow=1``.
    """

    bit_width = 2
    narrow_range = True
    scaling_impl_type = ScalingImplType.CONST
    scaling_const = 1.0


def ternary_anchor_conv(anchors: Tensor, stride, padding, dilation) -> QuantConv2d:
    """A stock ``QuantConv2d`` whose (frozen) weight is the ternary anchor tensor ``[m, p, h, w]``."""
    m, p, kh, kw = anchors.shape
    conv = QuantConv2d(p, m, (kh, kw), stride=stride, padding=padding, dilation=dilation, bias=False,
                       weight_quant=TernaryWeightPerTensorConst)
    with torch.no_grad():
        conv.weight.copy_(anchors)
    conv.weight.requires_grad_(False)
    return conv


class LBCExportLayer(nn.Sequential):
    """``anchor QuantConv2d -> activation -> pointwise`` (pointwise already in export form)."""

    def __init__(self, anchor_conv: QuantConv2d, activation: nn.Module, pointwise: nn.Module):
        super().__init__()
        self.anchor_conv = anchor_conv
        self.activation = copy.deepcopy(activation)
        self.pointwise = pointwise
