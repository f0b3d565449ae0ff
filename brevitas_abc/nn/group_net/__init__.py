"""Group-Net layers (Zhuang et al. 2019): the binary branch convolution (``binary``), layer-wise decomposition
and binary parallel atrous convolution (``layers``), block/group-wise decomposition (``blocks``), integer branch
coefficients (``integer``) and residual streams (``residual``), and the BPAC segmentation head
(``segmentation``)."""
from brevitas_abc.nn.group_net.binary import BinaryConv2d, BinaryLinear
from brevitas_abc.nn.group_net.blocks import GroupNetBlock, GroupNetGroup, register_group_block
from brevitas_abc.nn.group_net.layers import BinaryParallelAtrousConv2d, GroupNetConv2d, GroupNetLinear
from brevitas_abc.nn.group_net.segmentation import BPACSegmentationHead

__all__ = ["BPACSegmentationHead", "BinaryConv2d", "BinaryLinear", "BinaryParallelAtrousConv2d", "GroupNetBlock",
           "GroupNetConv2d", "GroupNetGroup", "GroupNetLinear", "register_group_block"]
