"""Refuse a stock Brevitas / torch ONNX export of ABC quantisers, naming the layer and the exporter that works.

Brevitas's exporters know only stock quantisers: they write ``Quant``/``BipolarQuant`` of the latent weight and
drop whatever a custom quantiser adds (ABC's M bases and N shifted activations would become ``sign(W)``, DESIGN 5),
or fail deep inside ``torch.export``. ``brevitas_abc.export_qonnx`` first converts every ABC layer to its exact
M*N-branch form of stock Brevitas layers, so ABC quantisers never run during its export; when they do run inside
an export, the user called a stock exporter on an unconverted model, and :func:`refuse_stock_export` says so.
"""
import inspect

import torch
from brevitas import config as brevitas_config
from torch import nn


class ABCExportError(RuntimeError):
    """A model still holding ABC quantisers was exported with a stock (Brevitas or torch) ONNX exporter."""


def in_stock_export() -> bool:
    """Whether a Brevitas export (``brevitas.export.export_*``) or ``torch.onnx.export`` is running."""
    return brevitas_config._ONGOING_EXPORT is not None or torch.onnx.is_in_onnx_export()


def qualified_layer_name(layer: nn.Module) -> str:
    """``layer``'s qualified name in the outermost module found on the call stack (``'<unnamed>'`` if none).

    Only used to word an error: the exporters call the model (``self``/``model``/``module`` locals), and the
    outermost module that contains ``layer`` gives its name.
    """
    frame, best = inspect.currentframe(), None
    while frame is not None:
        for key in ("self", "model", "module"):
            candidate = frame.f_locals.get(key)
            if isinstance(candidate, nn.Module):
                for name, module in candidate.named_modules():
                    if module is layer:
                        best = name or best or "<root>"
                        break
        frame = frame.f_back
    return best if best is not None else "<unnamed>"


def refuse_stock_export(layer: nn.Module, what: str) -> None:
    """Raise ``ABCExportError`` if a stock exporter is running; ``what`` names the quantiser ``layer`` holds."""
    if in_stock_export():
        raise ABCExportError(
            f"layer {qualified_layer_name(layer)!r} ({type(layer).__name__}) holds {what}, which Brevitas's exporters "
            "cannot express (they would keep only sign(W) / one threshold). Export with "
            "brevitas_abc.export_qonnx(model, images, path): it converts every ABC layer to its exact M*N-branch "
            "form of stock Brevitas layers and checks the QONNX graph by executing it")
