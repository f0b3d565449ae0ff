"""``convert(model)``: trained layers -> their export form, built from stock Brevitas layers only.

Any module with a ``to_export_form()`` method (ABC, LBC, Group-Net layers) is replaced by what that method
returns; everything else is kept. DESIGN 5: the QONNX exporter only knows stock semantics, so our own
quantiser math must be made explicit before export.
"""
import copy

from torch import nn


def is_convertible(module: nn.Module) -> bool:
    return callable(getattr(module, "to_export_form", None))


def _convert_children(module: nn.Module) -> int:
    count = 0
    for name, child in module.named_children():
        if is_convertible(child):
            setattr(module, name, child.to_export_form())
            count += 1
        else:
            count += _convert_children(child)
    return count


def convert(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Return ``model`` with every convertible layer replaced by its export form (a copy unless ``inplace``).

    The result is in eval mode; a model with nothing to convert (float or stock Brevitas) comes back as is.
    """
    model = model if inplace else copy.deepcopy(model)
    if is_convertible(model):
        return model.to_export_form().eval()
    _convert_children(model)
    return model.eval()
