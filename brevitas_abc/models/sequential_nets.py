"""Small float reference networks as plain ``nn.Sequential`` (so ``brevitas_abc.swap`` can replace their
layers, and ``drop_activations_before_binary_inputs`` can see the data flow): FINN's LFC, LeNet-5 and CNV, as
zoo entries ``lfc_seq``, ``lenet5_seq``, ``cnv_seq`` (aliases ``local_lfc``, ``local_lenet5``, ``local_cnv``,
the names training configs and checkpoints used before the zoo had them). Layer order follows ABC-Net
(DESIGN 1): max-pooling, then BatchNorm, then the activation, so that after a swap with binary activations
the ABC layer's own input quantiser is the activation. ``width`` scales every hidden size (for quick tests).

They differ from the zoo's ``lfc``/``lenet5``/``cnv`` (``finn_nets``, ``mnist_nets``), which follow the
original layouts (conv -> BatchNorm -> ReLU -> pool; a BatchNorm on the class scores) inside wrapper modules.
"""
from torch import nn

from brevitas_abc.models.registry import register_alias, register_model


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


@register_model
def lfc_seq(num_classes: int = 10, in_features: int = 784, hidden: int = 1024, num_layers: int = 3,
            dropout: float = 0.2, width: float = 1.0) -> nn.Sequential:
    """FINN/Brevitas LFC: ``in_features -> hidden x num_layers -> num_classes``, each hidden layer
    ``Linear -> BatchNorm1d -> ReLU -> Dropout`` (no bias before BatchNorm)."""
    hidden = _scaled(hidden, width)
    layers: list[nn.Module] = [nn.Flatten(), nn.Dropout(dropout)]
    features = in_features
    for _ in range(num_layers):
        layers += [nn.Linear(features, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)]
        features = hidden
    layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


@register_model
def lenet5_seq(num_classes: int = 10, in_channels: int = 1, width: float = 1.0) -> nn.Sequential:
    """LeNet-5 for 28x28 inputs: conv5x5(6, pad 2) -> pool -> conv5x5(16) -> pool -> 120 -> 84 -> classes,
    with BatchNorm after each pooling / hidden linear layer."""
    c1, c2, f1, f2 = (_scaled(c, width) for c in (6, 16, 120, 84))
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, 5, padding=2, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, 5, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(c2 * 5 * 5, f1, bias=False), nn.BatchNorm1d(f1), nn.ReLU(),
        nn.Linear(f1, f2, bias=False), nn.BatchNorm1d(f2), nn.ReLU(),
        nn.Linear(f2, num_classes))


@register_model
def cnv_seq(num_classes: int = 10, in_channels: int = 3, width: float = 1.0) -> nn.Sequential:
    """FINN/Brevitas CNV for 32x32 inputs: 64-64-P-128-128-P-256-256 valid 3x3 convs, FC 512-512-classes."""
    c = [_scaled(v, width) for v in (64, 64, 128, 128, 256, 256)]
    fc = _scaled(512, width)
    layers: list[nn.Module] = []
    channels = in_channels
    for index, out in enumerate(c):
        layers.append(nn.Conv2d(channels, out, 3, bias=False))
        if index in (1, 3):
            layers.append(nn.MaxPool2d(2))
        layers += [nn.BatchNorm2d(out), nn.ReLU()]
        channels = out
    layers += [nn.Flatten(),
               nn.Linear(channels, fc, bias=False), nn.BatchNorm1d(fc), nn.ReLU(),
               nn.Linear(fc, fc, bias=False), nn.BatchNorm1d(fc), nn.ReLU(),
               nn.Linear(fc, num_classes)]
    return nn.Sequential(*layers)


register_alias("local_lfc", "lfc_seq")
register_alias("local_lenet5", "lenet5_seq")
register_alias("local_cnv", "cnv_seq")
