"""ABC-Net layers (Lin, Zhao, Pan 2017): the training form (``layers``), its options (``options``) and the
export form built from stock Brevitas layers (``export_form``)."""
from brevitas_abc.nn.abc.export_form import ABCExportLayer
from brevitas_abc.nn.abc.layers import ABCConv2d, ABCLayerMixin, ABCLinear
from brevitas_abc.nn.abc.options import ABCLayerOptions

__all__ = ["ABCConv2d", "ABCExportLayer", "ABCLayerMixin", "ABCLayerOptions", "ABCLinear"]
