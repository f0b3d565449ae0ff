"""``BinaryLayer``: the one interface the three layer families implement (ABC-Net, LBCNN, Group-Net).

Everything outside a family's own files reaches its layers only through this protocol:
``brevitas_abc.export.convert`` (``to_export_form``), ``brevitas_abc.summary`` (``summary_counts``),
``lightning_modules``' ``LatentWeightClipping`` (``latent_weights``) and ``finn_flow.checks``
(``family``/``decomposition``). A new family implements these members and is then converted, summarised,
clipped and checked like the others, with no isinstance chain or class-name string to extend.

Members:
    family: ``"abc"``, ``"lbc"`` or ``"group_net"``.
    decomposition: what one module approximates: ``"layer"`` (one float conv/linear), ``"block"`` (one
        residual block, Group-Net eq. 5) or ``"group"`` (a group of blocks, Group-Net eq. 6).
    to_export_form(): the same computation built from stock Brevitas layers and constant modules, with the
        current (frozen) binary weights and coefficients (DESIGN 5: Brevitas's exporter only knows stock
        semantics).
    summary_counts(): ``LayerCounts``: what the deployed layer stores (bits of binary weights, float scales).
    latent_weights(): the latent real-valued weights behind the layer's sign/binary weights, i.e. the tensors
        that straight-through training updates and that weight clipping keeps in ``[-c, c]`` (DESIGN 1).
        Fixed or float weights (LBC anchors, a float pointwise conv) are not among them.
    from_float(module, ...) (classmethod, where one float module maps to one layer): the layer initialised
        from the float weights; ``swap`` uses it.

Brevitas-hosted layers: a stock Brevitas layer (``QuantConv2d``, ``QuantLinear``) whose weight quantiser is one of
``brevitas_abc.quant``'s (``weight_quant=ABCWeightPerChannelFloat``, ``GroupNetBinaryWeightPerChannelFloat``,
``LBCTernaryWeightPerTensorConst``) belongs to that family through its quantiser, which declares it as injector
attributes: ``family`` and ``latent_weight`` (whether the layer's ``weight`` is a latent weight behind binary or
multi-binary values, as for ABC and Group-Net, or fixed, as LBC's anchors). ``hosted_family`` and
``hosted_latent_weights`` read them (duck-typed: this module imports no quantiser), and ``latent_weights(model)``
includes them, so weight clipping reaches ``QuantConv2d(weight_quant=ABCWeightPerChannelFloat)`` as it reaches
``ABCConv2d``.

>>> import torch
>>> from brevitas_abc.nn import ABCConv2d, GroupNetConv2d, LBConv2d
>>> layers = [ABCConv2d(4, 4, 3), LBConv2d(4, 4, 3, pointwise="binary"), GroupNetConv2d(4, 4, 3, num_bases=2)]
>>> [(layer.family, is_binary_layer(layer), len(layer.latent_weights())) for layer in layers]
[('abc', True, 1), ('lbc', True, 1), ('group_net', True, 2)]
>>> is_binary_layer(torch.nn.Conv2d(4, 4, 3))
False
"""
from typing import ClassVar, Protocol, runtime_checkable

from torch import nn

from brevitas_abc.nn.layer_counts import LayerCounts

FAMILIES = ("abc", "lbc", "group_net")
DECOMPOSITIONS = ("layer", "block", "group")


@runtime_checkable
class BinaryLayer(Protocol):
    """A layer of one of the families (see the module docstring for what each member means)."""

    family: ClassVar[str]
    decomposition: ClassVar[str]

    def to_export_form(self) -> nn.Module: ...

    def summary_counts(self) -> LayerCounts: ...

    def latent_weights(self) -> list[nn.Parameter]: ...


def is_binary_layer(module: nn.Module) -> bool:
    """Whether ``module`` implements ``BinaryLayer``."""
    return isinstance(module, BinaryLayer)


def binary_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, layer)`` of every ``BinaryLayer`` in ``model`` (nested ones too, e.g. the ``BinaryConv2d``
    branches of a ``GroupNetConv2d``), in registration order."""
    return [(name, m) for name, m in model.named_modules() if is_binary_layer(m)]


def _weight_quant_injector(module: nn.Module):
    """The Brevitas injector behind ``module.weight_quant`` (a quant proxy), or None (no Brevitas weight proxy)."""
    return getattr(getattr(module, "weight_quant", None), "quant_injector", None)


def hosted_family(module: nn.Module) -> str | None:
    """The family (``FAMILIES``) of the ``brevitas_abc.quant`` weight quantiser that the Brevitas layer ``module``
    holds, or None (not a Brevitas layer, or a stock quantiser)."""
    injector = _weight_quant_injector(module)
    if injector is None or "family" not in injector:  # a Brevitas injector raises on a missing attribute
        return None
    return injector.family


def hosted_latent_weights(module: nn.Module) -> list[nn.Parameter]:
    """``[module.weight]`` for a Brevitas layer hosting a family quantiser whose weight is latent (ABC, Group-Net),
    ``[]`` for a fixed one (LBC's ternary anchors) and for any other module."""
    if hosted_family(module) is None:
        return []
    injector = _weight_quant_injector(module)
    return [module.weight] if "latent_weight" not in injector or injector.latent_weight else []


def hosted_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, layer)`` of every Brevitas layer in ``model`` that holds a family weight quantiser."""
    return [(name, m) for name, m in model.named_modules() if hosted_family(m) is not None]


def latent_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` of every latent binary weight in ``model``: the family layers' ``latent_weights()`` and
    the Brevitas-hosted layers' ``hosted_latent_weights``, each parameter once (a nested layer's weights are reached
    through its outer layer and itself)."""
    names = {id(p): name for name, p in model.named_parameters()}
    seen, found = set(), []
    weights = [w for _, layer in binary_layers(model) for w in layer.latent_weights()]
    weights += [w for _, layer in hosted_layers(model) for w in hosted_latent_weights(layer)]
    for weight in weights:
        if id(weight) not in seen:
            seen.add(id(weight))
            found.append((names.get(id(weight), "<unregistered>"), weight))
    return found
