"""``to_abc_layer``: a Brevitas ``QuantConv2d`` / ``QuantLinear`` holding ABC quantisers -> the equal ``ABCConv2d`` /
``ABCLinear``, whose ``to_export_form()`` gives the exact M*N-branch graph of stock Brevitas layers.

Both compute ``op(sum_m alpha_m B_m, sum_n beta_n H_{v_n}(x)) + bias`` from the same latent weight, bias, shifts
and betas (ABC-Net eq. 10), and with the ABC input quantiser's ``binary_padding`` (the value a padded ``QuantConv2d``
pads the binary activation bases with, :mod:`brevitas_abc.quant.binary_padding`). :func:`brevitas_abc.convert`
calls this for every such layer.
"""
import torch
from brevitas.nn import QuantConv2d, QuantLinear
from torch import nn

from brevitas_abc.core import ABCActQuant, ABCWeightQuant
from brevitas_abc.nn.abc.layers import ABCConv2d, ABCLinear
from brevitas_abc.quant.proxy import ABCActQuantProxyFromInjector, ABCWeightQuantProxyFromInjector

_ABC_CLASS = {QuantConv2d: ABCConv2d, QuantLinear: ABCLinear}


def holds_abc_quantizer(module: nn.Module) -> bool:
    """Whether ``module`` itself (not a child) has an ABC weight or input quantiser proxy."""
    return any(isinstance(getattr(module, name, None), (ABCWeightQuantProxyFromInjector, ABCActQuantProxyFromInjector))
               for name in ("weight_quant", "input_quant", "act_quant"))


def _tensor_quant(proxy):
    if isinstance(proxy, ABCActQuantProxyFromInjector):
        return proxy.fused_activation_quant_proxy.tensor_quant
    return proxy.tensor_quant


def _refuse(layer: nn.Module, why: str):
    return ValueError(f"{type(layer).__name__} with ABC quantisers cannot be converted to ABC-Net's export form: "
                      f"{why}. Allowed: QuantConv2d / QuantLinear with an ABC weight quantiser, an ABC input quantiser "
                      "or none, no output and bias quantiser")


def to_abc_layer(layer: nn.Module) -> nn.Module:
    """The ``ABCConv2d`` / ``ABCLinear`` equal to ``layer`` (same weight, bias, bases, shifts, betas).

    Raises:
        ValueError: ``layer`` is not a ``QuantConv2d``/``QuantLinear`` with an ABC weight quantiser, or it also has
            a non-ABC input quantiser, an output or bias quantiser, or different ``coefficient_bits`` for weights and
            activations (the message names what).
    """
    if type(layer) not in _ABC_CLASS:
        raise _refuse(layer, f"{type(layer).__name__} is not a QuantConv2d / QuantLinear")
    if not isinstance(layer.weight_quant, ABCWeightQuantProxyFromInjector):
        raise _refuse(layer, "its weight quantiser is not an ABC one")
    for name in ("output_quant", "bias_quant"):
        if getattr(layer, name).is_quant_enabled:
            raise _refuse(layer, f"it has an enabled {name}")
    weight_quant: ABCWeightQuant = _tensor_quant(layer.weight_quant)
    act_quant: ABCActQuant | None = None
    if isinstance(layer.input_quant, ABCActQuantProxyFromInjector):
        act_quant = _tensor_quant(layer.input_quant)
    elif layer.input_quant.is_quant_enabled:
        raise _refuse(layer, "its input quantiser is not an ABC one (put it in a QuantIdentity in front)")
    if getattr(layer, "is_same_padded_strided", False):
        raise _refuse(layer, f"padding='same' with stride {layer.stride} (ABCConv2d takes explicit padding)")
    if act_quant is not None and act_quant.coefficient_bits != weight_quant.coefficient_bits:
        raise _refuse(layer, f"weight coefficient_bits={weight_quant.coefficient_bits} differs from input "
                             f"coefficient_bits={act_quant.coefficient_bits}")
    options = dict(
        num_weight_bases=weight_quant.num_bases, weight_granularity=weight_quant.granularity,
        weight_shifts=tuple(weight_quant.shifts.tolist()),
        train_weight_shifts=isinstance(weight_quant.shifts, nn.Parameter), ridge=weight_quant.ridge,
        backprop_alpha=weight_quant.backprop_alpha, coefficient_bits=weight_quant.coefficient_bits,
        binary_padding=layer.input_quant.binary_padding if act_quant is not None else 0.0,
        num_act_bases=None if act_quant is None else act_quant.num_bases)
    if act_quant is not None:
        options.update(act_shifts=tuple(act_quant.shifts.tolist()), train_act_shifts=act_quant.shifts.requires_grad,
                       train_act_betas=act_quant.betas.requires_grad)
    abc = _ABC_CLASS[type(layer)].from_float(layer, **options)
    with torch.no_grad():
        abc.weight_quant.shifts.copy_(weight_quant.shifts)
        if act_quant is not None:
            abc.input_quant.shifts.copy_(act_quant.shifts)
            abc.input_quant.betas.copy_(act_quant.betas)
    return abc.train(layer.training)
