"""Stock-Brevitas binary baselines (no brevitas_abc code): LFC W1A1 as in Brevitas's bnn_pynq example,
with binary weights and activations (per-tensor constant scale 1) and a float first input and last
layer's weights binary too, like FINN's LFCW1A1."""
from brevitas.nn import QuantIdentity, QuantLinear
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
from torch import nn


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
