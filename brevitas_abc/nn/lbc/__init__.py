"""LBCNN layers (Juefei-Xu, Boddeti, Savvides 2017): sparse ternary anchors (``anchors``), the layer
(``layers``), the poster's fused half-normal/half-LBC convolution (``fused``), the integer block FINN builds
(``integer``) and the export form (``export_form``)."""
from brevitas_abc.nn.lbc.export_form import LBCExportLayer
from brevitas_abc.nn.lbc.fused import FusedLBConv2d
from brevitas_abc.nn.lbc.integer import integer_lbc_block
from brevitas_abc.nn.lbc.layers import LBConv2d

__all__ = ["FusedLBConv2d", "LBCExportLayer", "LBConv2d", "integer_lbc_block"]
