"""DenseNet-BC (Huang et al. 2017) in the torchvision layout, with the poster's LBC variants (seed 000).

Dense layer (bottleneck "B"): ``BN -> ReLU -> 1x1 conv (bn_size*k) -> BN -> ReLU -> 3x3 conv (k)``, its
output concatenated to its input; transitions ``BN -> ReLU -> 1x1 conv (compression "C") -> avgpool 2``.
DenseNet-121: growth k=32, blocks (6, 12, 24, 16), 64 stem channels: 7,978,856 parameters.

``lbc`` selects the 3x3 conv of every dense layer (poster Figure 2): "none" (float), "full" (an
``LBConv2d`` with ``num_anchors`` anchors) or "fused" (``FusedLBConv2d``: half normal, half LBC).
"""
import torch
from torch import Tensor, nn

from brevitas_abc.models.registry import register_model
from brevitas_abc.nn.lbc.fused import FusedLBConv2d
from brevitas_abc.nn.lbc.layers import LBConv2d

LBC_VARIANTS = ("none", "full", "fused")


def _conv3x3(in_channels: int, out_channels: int, lbc: str, layer_seed: int, lbc_kwargs: dict) -> nn.Module:
    if lbc == "none":
        return nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
    cls = LBConv2d if lbc == "full" else FusedLBConv2d
    return cls(in_channels, out_channels, 3, padding=1, bias=False, seed=layer_seed, **lbc_kwargs)


class DenseLayer(nn.Module):
    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, conv2: nn.Module):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_channels)
        self.relu1 = nn.ReLU(inplace=False)
        self.conv1 = nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=False)
        self.conv2 = conv2

    def forward(self, x: Tensor) -> Tensor:
        new = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        return torch.cat([x, new], dim=1)


class Transition(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=False)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)


class DenseNet(nn.Module):
    """DenseNet-BC.

    Args:
        growth_rate: k, channels added per dense layer.
        block_config: dense layers per block.
        num_init_features: stem channels.
        bn_size: bottleneck width multiplier (4).
        compression: transition channel ratio (0.5).
        num_classes: classifier outputs.
        cifar_stem: 3x3 stride-1 stem, no max-pool (32x32 inputs) instead of 7x7/2 + max-pool.
        lbc: "none", "full" or "fused" (see the module docstring).
        num_anchors, density, seed, **lbc options: for the LBC layers; layer i gets seed ``seed + i``.
    """

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16), num_init_features: int = 64,
                 bn_size: int = 4, compression: float = 0.5, num_classes: int = 1000, cifar_stem: bool = False,
                 in_channels: int = 3, lbc: str = "none", seed: int = 0, **lbc_kwargs):
        super().__init__()
        if lbc not in LBC_VARIANTS:
            raise ValueError(f"lbc={lbc!r} is not allowed: expected one of {LBC_VARIANTS}")
        if lbc == "none" and lbc_kwargs:
            raise ValueError(f"LBC options {sorted(lbc_kwargs)} are not allowed with lbc='none': expected "
                             "lbc='full' or 'fused'")
        if cifar_stem:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 3, padding=1, bias=False))]
        else:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False))]
        stem += [("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU(inplace=False))]
        if not cifar_stem:
            stem.append(("pool0", nn.MaxPool2d(3, stride=2, padding=1)))
        self.features = nn.Sequential()
        for name, module in stem:
            self.features.add_module(name, module)
        channels, layer_index = num_init_features, 0
        for b, num_layers in enumerate(block_config):
            block = nn.Sequential()
            for i in range(num_layers):
                conv2 = _conv3x3(bn_size * growth_rate, growth_rate, lbc, seed + layer_index, lbc_kwargs)
                block.add_module(f"denselayer{i + 1}", DenseLayer(channels, growth_rate, bn_size, conv2))
                channels += growth_rate
                layer_index += 1
            self.features.add_module(f"denseblock{b + 1}", block)
            if b != len(block_config) - 1:
                out = int(channels * compression)
                self.features.add_module(f"transition{b + 1}", Transition(channels, out))
                channels = out
        self.features.add_module("norm5", nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(inplace=False)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        for m in self.modules():
            if type(m) is nn.Conv2d:
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.relu(self.features(x))).flatten(1))


@register_model
def densenet121(num_classes: int = 1000, lbc: str = "none", **kwargs) -> DenseNet:
    """DenseNet-121 (ImageNet layout), float / "full" / "fused" LBC (poster Table 1)."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, lbc=lbc, **kwargs)


@register_model
def densenet_bc_cifar(num_classes: int = 10, depth: int = 40, growth_rate: int = 12, lbc: str = "none",
                      **kwargs) -> DenseNet:
    """Small CIFAR DenseNet-BC: depth ``6n + 4`` (3 blocks of n bottleneck layers), k=12, stem 2k channels."""
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth={depth!r} is not allowed: expected an int 6n + 4 >= 10 (e.g. 40, 100)")
    n = (depth - 4) // 6
    return DenseNet(growth_rate, (n, n, n), 2 * growth_rate, num_classes=num_classes, cifar_stem=True, lbc=lbc,
                    **kwargs)
