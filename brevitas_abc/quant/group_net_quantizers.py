"""Group-Net's and LBC's binary / ternary weights as Brevitas quantisers (Brevitas's exporter writes them right).

- ``GroupNetBinaryWeightPerChannelFloat``: ``alpha_c sign(W_c)``, ``alpha_c = mean |W_c|`` (constant), identity
  straight-through gradient: the weight of a Group-Net branch (``BinaryConv2d``). A uniform 1-bit quantiser, so it
  uses Brevitas's stock proxy and exports as ``BipolarQuant(W, scale=alpha)``.
- Group-Net's activation ``sign(x + t)`` with the clipped gradient ``1[|x + t| <= 1]`` is Brevitas's stock
  ``SignedBinaryActPerTensorConst`` (scale 1) on ``x + t``; the learned per-channel threshold ``t`` must stay a
  separate module in front (a quantiser holding it would export as plain ``sign(x)``).
- ``LBCTernaryWeightPerTensorConst``: LBC's fixed ternary anchors, 2-bit narrow range with scale 1 (values
  {-1, 0, +1}); freeze the weight (``requires_grad_(False)``), as ``LBConv2d`` keeps its anchors in a buffer.

>>> from brevitas.nn import QuantConv2d
>>> from brevitas.quant import SignedBinaryActPerTensorConst
>>> conv = QuantConv2d(4, 8, 3, bias=False, weight_quant=GroupNetBinaryWeightPerChannelFloat,
...                    input_quant=SignedBinaryActPerTensorConst)
>>> conv(torch.randn(2, 4, 5, 5)).shape
torch.Size([2, 8, 3, 3])
"""
import torch  # noqa: F401 - used by the doctest
from brevitas.inject import ExtendedInjector
from brevitas.proxy import WeightQuantProxyFromInjector

from brevitas_abc.core.group_net_weight_quant import GroupNetWeightQuant
from brevitas_abc.nn.lbc.export_form import TernaryWeightPerTensorConst

__all__ = ["GroupNetBinaryWeightPerChannelFloat", "LBCTernaryWeightPerTensorConst"]


class GroupNetBinaryWeightPerChannelFloat(ExtendedInjector):
    """Group-Net binary weights ``alpha_c sign(W_c)`` (see the module docstring); stock Brevitas proxy and export."""

    proxy_class = WeightQuantProxyFromInjector
    tensor_quant = GroupNetWeightQuant
    family = "group_net"  # brevitas_abc.nn.protocol: a Group-Net branch, its weight latent (clipped in training)
    latent_weight = True
    signed = True
    narrow_range = True
    bit_width = 1
    scaling_per_output_channel = True


class LBCTernaryWeightPerTensorConst(TernaryWeightPerTensorConst):
    """LBC's ternary anchors: signed 2-bit narrow range, constant scale 1 (``Quant(bit_width=2, narrow=1)``)."""

    family = "lbc"  # brevitas_abc.nn.protocol: an LBC anchor conv; its weight is fixed, not latent (never clipped)
    latent_weight = False
