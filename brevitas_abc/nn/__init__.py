"""Torch layers: drop-in replacements that subclass the torch layer (``isinstance(m, nn.Conv2d)`` holds)."""
from brevitas_abc.nn.abc.export_form import ABCExportLayer
from brevitas_abc.nn.abc.layers import ABCConv2d, ABCLinear
from brevitas_abc.nn.abc.options import ABCLayerOptions
from brevitas_abc.nn.constant_ops import AddConstant, MulConstant
from brevitas_abc.nn.exact_batchnorm import ExactBatchNorm1d, ExactBatchNorm2d, use_exact_batchnorm
from brevitas_abc.nn.group_net.binary import BinaryConv2d, BinaryLinear
from brevitas_abc.nn.group_net.blocks import GroupNetBlock, GroupNetGroup, register_group_block
from brevitas_abc.nn.group_net.layers import BinaryParallelAtrousConv2d, GroupNetConv2d, GroupNetLinear
from brevitas_abc.nn.group_net.segmentation import BPACSegmentationHead
from brevitas_abc.nn.lbc.fused import FusedLBConv2d
from brevitas_abc.nn.lbc.layers import LBConv2d

__all__ = ["ABCConv2d", "ABCExportLayer", "ABCLayerOptions", "ABCLinear", "AddConstant", "BPACSegmentationHead",
           "BinaryConv2d", "BinaryLinear", "BinaryParallelAtrousConv2d", "ExactBatchNorm1d", "ExactBatchNorm2d",
           "FusedLBConv2d", "GroupNetBlock", "GroupNetConv2d", "GroupNetGroup", "GroupNetLinear", "LBConv2d",
           "MulConstant", "register_group_block", "use_exact_batchnorm"]
