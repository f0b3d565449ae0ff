"""Torch layers: drop-in replacements that subclass the torch layer (``isinstance(m, nn.Conv2d)`` holds)."""
from brevitas_abc.nn.abc_export_form import ABCExportLayer
from brevitas_abc.nn.abc_layers import ABCConv2d, ABCLinear
from brevitas_abc.nn.abc_options import ABCLayerOptions
from brevitas_abc.nn.constant_ops import AddConstant, MulConstant

__all__ = ["ABCConv2d", "ABCExportLayer", "ABCLayerOptions", "ABCLinear", "AddConstant", "MulConstant"]
