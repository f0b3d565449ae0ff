"""A binary parallel atrous convolution (BPAC) head for semantic segmentation (Group-Net sec. 2.3).

    logits = Upsample( Conv1x1( BN( BPAC(features) ) ) )

``BPAC`` (``BinaryParallelAtrousConv2d``) sums K binary 3x3 branches with dilation rates ``rates`` (one rate
per base), replacing the float atrous spatial pyramid of DeepLab; the 1x1 classifier stays float (as the
last layer of every Group-Net model); bilinear upsampling restores the input resolution. Exportable: the
BPAC converts to stock Brevitas branches, upsampling exports as ONNX ``Resize``.
"""
from torch import Tensor, nn

from brevitas_abc.nn.group_net.layers import BinaryParallelAtrousConv2d


class BPACSegmentationHead(nn.Module):
    """Args:
        in_channels: backbone feature channels.
        num_classes: segmentation classes.
        hidden_channels: BPAC output channels.
        rates: dilation rate of each binary branch (K = len(rates)).
        upsample: factor back to the input resolution (1: none).
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int = 64, rates=(1, 2, 4, 8),
                 upsample: int = 1):
        super().__init__()
        if isinstance(upsample, bool) or not isinstance(upsample, int) or upsample < 1:
            raise ValueError(f"upsample={upsample!r} is not allowed: expected an int >= 1")
        self.bpac = BinaryParallelAtrousConv2d(in_channels, hidden_channels, rates)
        self.bn = nn.BatchNorm2d(hidden_channels)
        self.classifier = nn.Conv2d(hidden_channels, num_classes, 1)
        self.upsample = nn.Identity() if upsample == 1 else \
            nn.Upsample(scale_factor=upsample, mode="bilinear", align_corners=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.upsample(self.classifier(self.bn(self.bpac(x))))
