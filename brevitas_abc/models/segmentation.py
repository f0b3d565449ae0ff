"""A small Group-Net segmentation net: a ResNet backbone (stem + first three stages) and a BPAC head
(Group-Net sec. 2.3). ``swap`` with ``GroupNetConfig`` binarises the backbone; the head is binary already.
"""
from torch import Tensor, nn

from brevitas_abc.models.registry import register_model
from brevitas_abc.models.resnet import BasicBlock, ResNet
from brevitas_abc.nn.group_net.segmentation import BPACSegmentationHead


class BPACSegNet(nn.Module):
    """Output ``[B, num_classes, H, W]`` for an input ``[B, C, H, W]`` (H, W multiples of 4); ``layers``: blocks in
    each of the three backbone stages (ResNet-18: 2, 2, 2)."""

    def __init__(self, num_classes: int = 21, width: int = 16, rates=(1, 2, 4, 8), in_channels: int = 3,
                 layers=(2, 2, 2)):
        super().__init__()
        resnet = ResNet(BasicBlock, [*layers, 1], cifar_stem=True, in_channels=in_channels, width=width)
        self.conv1, self.bn1, self.relu = resnet.conv1, resnet.bn1, resnet.relu
        self.layer1, self.layer2, self.layer3 = resnet.layer1, resnet.layer2, resnet.layer3
        self.head = BPACSegmentationHead(4 * width, num_classes, 4 * width, rates, upsample=4)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.head(self.layer3(self.layer2(self.layer1(x))))


@register_model
def resnet18_bpac_seg(num_classes: int = 21, **kwargs) -> BPACSegNet:
    return BPACSegNet(num_classes, **kwargs)
