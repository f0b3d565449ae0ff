"""brevitas_abc: accurate multi-binary networks (ABC-Net, LBCNN, Group-Net) as Brevitas-native layers.

Public API: ``ABCConfig``, ``LBCConfig``, ``GroupNetConfig``, ``swap``, ``calibrate``, ``convert``, ``export_qonnx``,
``summary``, the zoo in ``brevitas_abc.models``, the layers in ``brevitas_abc.nn`` and the Brevitas quantisers in
``brevitas_abc.quant``.
"""
from brevitas_abc import models, quant
from brevitas_abc.calibration import CalibrationReport, calibrate
from brevitas_abc.export import ExportReport, QONNXMismatchError, convert, export_qonnx
from brevitas_abc.nn import ABCConv2d, ABCLinear
from brevitas_abc.summary import summary
from brevitas_abc.swap import ABCConfig, GroupNetConfig, LBCConfig, SwapError, swap

__all__ = ["ABCConfig", "ABCConv2d", "ABCLinear", "CalibrationReport", "ExportReport", "GroupNetConfig", "LBCConfig",
           "QONNXMismatchError", "SwapError", "calibrate", "convert", "export_qonnx", "models", "quant", "summary",
           "swap"]
