"""Export: convert trained layers to stock-Brevitas form, export QONNX, verify by execution."""
from brevitas_abc.export.convert import convert
from brevitas_abc.export.qonnx_export import (
    ExportReport,
    NonStandardOpError,
    QONNXMismatchError,
    execute_qonnx,
    export_qonnx,
)

__all__ = ["ExportReport", "NonStandardOpError", "QONNXMismatchError", "convert", "execute_qonnx", "export_qonnx"]
