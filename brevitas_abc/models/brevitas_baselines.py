"""Stock-Brevitas baselines, the one place for them: no brevitas_abc layer or quantiser, only Brevitas's own.

- ``lfc_brevitas_w1a1`` (zoo entry): LFC W1A1 as in Brevitas's bnn_pynq example, with binary weights and
  activations (per-tensor constant scale 1); the first input and the last layer's weights are binary too, like
  FINN's LFCW1A1.
- ``brevitas_quantized(float_model, weight_bits, act_bits)``: a W{b}A{a} copy of any float ``nn.Sequential``
  (the Brevitas rows of the accuracy benchmarks and the CNV CIFAR-10 benchmark).
"""
import copy

from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
from brevitas.quant import (Int8ActPerTensorFloat, Int8WeightPerChannelFloatMSE, Int8WeightPerTensorFloat,
                            SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst, Uint8ActPerTensorFloat)
from torch import nn

from brevitas_abc.models.registry import register_model

BIT_WIDTHS = (1, 2, 3, 4, 8)
#: multi-bit weight quantisers by scaling: "max" per tensor (scale = max |w| / (2^(b-1) - 1)), "mse" per output
#: channel (the scale that minimises the squared quantisation error, re-computed every step)
WEIGHT_SCALINGS = {"max": Int8WeightPerTensorFloat, "mse": Int8WeightPerChannelFloatMSE}


@register_model
def lfc_brevitas_w1a1(num_classes: int = 10, in_features: int = 784, hidden: int = 1024, num_layers: int = 3,
                      dropout: float = 0.2) -> nn.Sequential:
    """LFC W1A1: input binarised, every ``QuantLinear`` 1-bit, ``BatchNorm1d`` + 1-bit ``QuantIdentity``
    activations, and a final BatchNorm on the class scores (Brevitas's TensorNorm role)."""
    layers: list[nn.Module] = [nn.Flatten(), QuantIdentity(act_quant=SignedBinaryActPerTensorConst), nn.Dropout(dropout)]
    features = in_features
    for _ in range(num_layers):
        layers += [QuantLinear(features, hidden, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
                   nn.BatchNorm1d(hidden), QuantIdentity(act_quant=SignedBinaryActPerTensorConst), nn.Dropout(dropout)]
        features = hidden
    layers += [QuantLinear(features, num_classes, bias=False, weight_quant=SignedBinaryWeightPerTensorConst),
               nn.BatchNorm1d(num_classes)]
    return nn.Sequential(*layers)


def brevitas_quantized(float_model: nn.Sequential, weight_bits: int, act_bits: int,
                       weight_scaling: str = "max") -> nn.Sequential:
    """Stock-Brevitas W{weight_bits}A{act_bits} copy of a float ``nn.Sequential`` (fresh weights), as the
    bnn_pynq examples quantise CNV/LFC: an 8-bit ``QuantIdentity`` on the input, every ``Conv2d``/``Linear``
    a ``QuantConv2d``/``QuantLinear`` with ``weight_bits``-bit weights, every ReLU a ``act_bits``-bit
    activation. 1 bit uses Brevitas's ``SignedBinaryWeightPerTensorConst`` / ``SignedBinaryActPerTensorConst``
    (sign, scale 1); more bits use ``Uint8ActPerTensorFloat`` (learned per-tensor scale) and, by
    ``weight_scaling``, ``Int8WeightPerTensorFloat`` (``"max"``) or ``Int8WeightPerChannelFloatMSE`` (``"mse"``), with
    ``bit_width`` overridden.

    At 2 bits (levels ``{-s, 0, s}``) the ``"max"`` scale ``s = max |w|`` rounds every weight with ``|w| < s / 2`` to
    0: on the float-trained CIFAR-10 CNV (width 0.5) 80-98 % of each layer's weights (relative squared error 0.94 on
    conv 4), and the W2A2 CNV trained from it kept 77-98 % zeros. ``"mse"`` (per channel) gives 47 % zeros and error
    0.20 on the same layer: the fair baseline beside ABC's least-squares alphas.

    >>> from brevitas_abc.models import create_model
    >>> [type(m).__name__ for m in brevitas_quantized(create_model("lfc_seq", num_layers=1, width=0.01), 1, 2)]
    ['QuantIdentity', 'Flatten', 'Dropout', 'QuantLinear', 'BatchNorm1d', 'QuantReLU', 'Dropout', 'QuantLinear']

    Raises:
        ValueError: a bit width outside ``BIT_WIDTHS``, a ``weight_scaling`` other than ``"max"``/``"mse"``, or
            ``float_model`` not an ``nn.Sequential``.
    """
    if weight_scaling not in WEIGHT_SCALINGS:
        raise ValueError(f"weight_scaling={weight_scaling!r} is not allowed: expected one of {tuple(WEIGHT_SCALINGS)}")
    for name, bits in (("weight_bits", weight_bits), ("act_bits", act_bits)):
        if bits not in BIT_WIDTHS:
            raise ValueError(f"{name}={bits!r} is not allowed: expected one of 1, 2, 3, 4, 8")
    if not isinstance(float_model, nn.Sequential):
        raise ValueError(f"float_model must be an nn.Sequential, got {type(float_model).__name__}")
    w_kw = ({"weight_quant": SignedBinaryWeightPerTensorConst} if weight_bits == 1
            else {"weight_quant": WEIGHT_SCALINGS[weight_scaling], "weight_bit_width": weight_bits})
    layers: list[nn.Module] = [QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False)]
    for module in float_model:
        if isinstance(module, nn.Conv2d):
            layers.append(QuantConv2d(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                                      padding=module.padding, bias=module.bias is not None, **w_kw))
        elif isinstance(module, nn.Linear):
            layers.append(QuantLinear(module.in_features, module.out_features, bias=module.bias is not None, **w_kw))
        elif isinstance(module, nn.ReLU):
            layers.append(QuantIdentity(act_quant=SignedBinaryActPerTensorConst) if act_bits == 1
                          else QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=act_bits))
        else:
            layers.append(copy.deepcopy(module))
    return nn.Sequential(*layers)
