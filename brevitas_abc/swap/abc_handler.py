"""ABC swap handler: plain ``nn.Conv2d`` / ``nn.Linear`` and Brevitas ``QuantConv2d`` / ``QuantLinear`` ->
``ABCConv2d`` / ``ABCLinear`` from the (latent) float weights; Brevitas activation layers in front of them become
``nn.Identity`` (:mod:`brevitas_abc.swap.brevitas_layers`)."""
from dataclasses import asdict

import torch
from torch import nn

from brevitas_abc.nn.abc.layers import ABCConv2d, ABCLinear
from brevitas_abc.swap.abc_config import ABCConfig
from brevitas_abc.swap.brevitas_layers import BREVITAS_ABC_CLASS, absorb_activations_into_abc
from brevitas_abc.swap.registry import SwapError, SwapHandler, register_swap_handler

_ABC_CLASS = {nn.Conv2d: ABCConv2d, nn.Linear: ABCLinear, **BREVITAS_ABC_CLASS}


def abc_candidates(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Plain ``nn.Conv2d`` / ``nn.Linear`` and Brevitas ``QuantConv2d`` / ``QuantLinear`` modules (exact types: other
    subclasses, e.g. layers that are already ABC, are not candidates)."""
    return [(name, m) for name, m in model.named_modules() if type(m) in _ABC_CLASS]


def abc_replace(module: nn.Module, config: ABCConfig) -> nn.Module:
    if not torch.isfinite(module.weight).all():
        raise SwapError("its float weight contains NaN or inf")
    return _ABC_CLASS[type(module)].from_float(module, **asdict(config.layer_options()))


def abc_finish(model: nn.Module, replaced: set[str]) -> list[tuple[str, str, str]]:
    return absorb_activations_into_abc(model, replaced)


register_swap_handler(ABCConfig, SwapHandler(
    abc_candidates, abc_replace, "plain nn.Conv2d / nn.Linear or Brevitas QuantConv2d / QuantLinear", abc_finish))
