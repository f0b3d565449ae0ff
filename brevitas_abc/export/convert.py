"""``convert(model)``: trained layers -> their export form, built from stock Brevitas layers only.

Any module with a ``to_export_form()`` method (ABC, LBC, Group-Net layers) is replaced by what that method
returns, and so is a Brevitas ``QuantConv2d``/``QuantLinear`` holding ABC quantisers (``brevitas_abc.quant``; via
the equal ``ABCConv2d``/``ABCLinear``, :func:`brevitas_abc.quant.to_abc_layer.to_abc_layer`); everything else is
kept. DESIGN 5: the QONNX exporter only knows stock semantics, so our own quantiser math must be made explicit
before export.
"""
import copy

from torch import nn

from brevitas_abc.quant.to_abc_layer import holds_abc_quantizer, to_abc_layer


def is_convertible(module: nn.Module) -> bool:
    return callable(getattr(module, "to_export_form", None)) or holds_abc_quantizer(module)


def _export_form(module: nn.Module) -> nn.Module:
    if holds_abc_quantizer(module):
        return to_abc_layer(module).to_export_form()
    return module.to_export_form()


def _convert_children(module: nn.Module) -> int:
    count = 0
    for name, child in module.named_children():
        if is_convertible(child):
            setattr(module, name, _export_form(child))
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
        return _export_form(model).eval()
    _convert_children(model)
    return model.eval()
