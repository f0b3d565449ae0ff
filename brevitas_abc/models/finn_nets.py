"""FINN / BNN-PYNQ topologies (Umuroglu et al. 2017; Brevitas ``bnn_pynq`` examples) as FLOAT nets that
``swap`` converts: the layer shapes of the quantised originals, float layers in their place.

- LFC: 784 -> 1024 -> 1024 -> 1024 -> classes; TFC: 784 -> 64 -> 64 -> 64 -> classes. Each hidden FC is
  ``Linear(bias=False) -> BatchNorm1d -> activation`` with dropout (0.2 on the input and hidden layers).
- CNV: ``64-64-P-128-128-P-256-256`` valid (unpadded) 3x3 convs on 3x32x32 (32 -> 30 -> 28 -> 14 -> 12 ->
  10 -> 5 -> 3 -> 1), then FC ``256 -> 512 -> 512 -> classes``; BatchNorm after every conv and FC.

The originals end in a ``TensorNorm`` (a per-tensor affine norm); here a ``BatchNorm1d`` over the classes.
"""
from torch import Tensor, nn

from brevitas_abc.models.registry import register_model


def _fc_block(cin: int, cout: int, dropout: float) -> list[nn.Module]:
    return [nn.Dropout(dropout), nn.Linear(cin, cout, bias=False), nn.BatchNorm1d(cout), nn.ReLU()]


class FC(nn.Module):
    """LFC/TFC: an MLP with ``hidden`` units in each of ``num_layers`` hidden layers."""

    def __init__(self, hidden: int, num_layers: int = 3, num_classes: int = 10, in_features: int = 784,
                 dropout: float = 0.2):
        super().__init__()
        layers, cin = [nn.Flatten()], in_features
        for _ in range(num_layers):
            layers += _fc_block(cin, hidden, dropout)
            cin = hidden
        layers += [nn.Dropout(dropout), nn.Linear(cin, num_classes, bias=False), nn.BatchNorm1d(num_classes)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


CNV_CONVS = ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False))


class CNV(nn.Module):
    """FINN's CNV (see the module docstring); ``width`` scales every conv and hidden FC size (rounded, >= 1)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0):
        super().__init__()
        if not (isinstance(width, (int, float)) and width > 0):
            raise ValueError(f"width={width!r} is not allowed: expected a number > 0")

        def scaled(channels: int) -> int:
            return max(1, int(round(channels * width)))

        layers, cin = [], in_channels
        for cout, pool in CNV_CONVS:
            cout = scaled(cout)
            layers += [nn.Conv2d(cin, cout, 3, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            if pool:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        hidden = scaled(512)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(cin, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes, bias=False), nn.BatchNorm1d(num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@register_model
def lfc(num_classes: int = 10, **kwargs) -> FC:
    return FC(1024, 3, num_classes, **kwargs)


@register_model
def tfc(num_classes: int = 10, **kwargs) -> FC:
    return FC(64, 3, num_classes, **kwargs)


@register_model
def cnv(num_classes: int = 10, **kwargs) -> CNV:
    return CNV(num_classes, **kwargs)
