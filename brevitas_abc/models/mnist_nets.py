"""The MNIST nets of the student ABC re-implementation (seed 002): LeNet-5, and small AlexNet- and
VGG16-style nets for 1x28x28 inputs. The report gives no exact widths; these follow the classic layouts
(LeNet-5: LeCun et al. 1998; AlexNet: 5 convs + 3 FC; VGG16: 13 3x3 convs in 5 stages + 3 FC), scaled to
28x28 (VGG16 drops its 5th pool: 28 -> 14 -> 7 -> 3 -> 1).
"""
from torch import Tensor, nn

from brevitas_abc.models.registry import register_model


class LeNet5(nn.Module):
    """conv5x5(6, pad 2) -> pool -> conv5x5(16) -> pool -> FC 120 -> FC 84 -> FC classes (61,706 params)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, padding: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class AlexNetMNIST(nn.Module):
    """AlexNet-style: 5 convs (64, 128, 192, 192, 128) with 3 max-pools, FC 512 -> 512 -> classes."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: float = 1.0):
        super().__init__()
        c = [max(1, int(round(w * width))) for w in (64, 128, 192, 192, 128)]
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, c[0], 5, 2), nn.MaxPool2d(2),
            *_conv_bn_relu(c[0], c[1]), nn.MaxPool2d(2),
            *_conv_bn_relu(c[1], c[2]), *_conv_bn_relu(c[2], c[3]), *_conv_bn_relu(c[3], c[4]), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(c[4] * 3 * 3, 512), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


VGG16_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class VGG16MNIST(nn.Module):
    """VGG16-style: 13 3x3 conv-BN-ReLU in 5 stages (max-pool after the first four), FC 512-512-classes.

    ``width`` scales every conv (default 0.25: 16 ... 128 channels, a size that trains on MNIST on a CPU).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: float = 0.25):
        super().__init__()
        layers, cin = [], in_channels
        for s, stage in enumerate(VGG16_STAGES):
            for channels in stage:
                cout = max(1, int(round(channels * width)))
                layers += _conv_bn_relu(cin, cout)
                cin = cout
            if s < 4:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(cin, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 512), nn.ReLU(),
            nn.Linear(512, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@register_model
def lenet5(num_classes: int = 10, **kwargs) -> LeNet5:
    return LeNet5(num_classes, **kwargs)


@register_model
def alexnet_mnist(num_classes: int = 10, **kwargs) -> AlexNetMNIST:
    return AlexNetMNIST(num_classes, **kwargs)


@register_model
def vgg16_mnist(num_classes: int = 10, **kwargs) -> VGG16MNIST:
    return VGG16MNIST(num_classes, **kwargs)
