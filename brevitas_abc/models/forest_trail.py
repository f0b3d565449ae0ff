"""The VGG-like net of ABC-Net's forest-trail experiment (Lin et al. 2017, supplementary S6, Fig. S5).

The figure itself did not survive in our copy of the paper (seed 003 keeps only its caption), so this is
a reconstruction, not a transcription: a VGG-like stack of 3x3 conv-BN-ReLU pairs with max-pools on the
3x101x101 RGB frames of Giusti et al. (2016), three classes (turn left, go straight, turn right).
Stages (32, 32)-P-(64, 64)-P-(128, 128)-P-(256, 256)-P, global average pool, FC 256 -> 3.
"""
from torch import Tensor, nn

from brevitas_abc.models.registry import register_model

FOREST_TRAIL_STAGES = ((32, 32), (64, 64), (128, 128), (256, 256))


class ForestTrailVGG(nn.Module):
    def __init__(self, num_classes: int = 3, in_channels: int = 3, width: float = 1.0):
        super().__init__()
        layers, cin = [], in_channels
        for stage in FOREST_TRAIL_STAGES:
            for channels in stage:
                cout = max(1, int(round(channels * width)))
                layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
                cin = cout
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


@register_model
def forest_trail_vgg(num_classes: int = 3, **kwargs) -> ForestTrailVGG:
    return ForestTrailVGG(num_classes, **kwargs)
