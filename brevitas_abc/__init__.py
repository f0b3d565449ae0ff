"""brevitas_abc: accurate multi-binary networks (ABC-Net, LBCNN, Group-Net) as Brevitas-native layers.

Public API: ``ABCConfig``, ``swap``, ``convert``, ``export_qonnx`` and the layers in ``brevitas_abc.nn``.
"""
from brevitas_abc.export import ExportReport, QONNXMismatchError, convert, export_qonnx
from brevitas_abc.nn import ABCConv2d, ABCLinear
from brevitas_abc.summary import summary
from brevitas_abc.swap import ABCConfig, SwapError, swap

__all__ = ["ABCConfig", "ABCConv2d", "ABCLinear", "ExportReport", "QONNXMismatchError", "SwapError", "convert",
           "export_qonnx", "summary", "swap"]
