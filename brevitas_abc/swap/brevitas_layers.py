"""Brevitas models in an ABC swap: which Brevitas layers become ABC layers, and which activation layers the ABC
input quantisers replace.

- ``QuantConv2d`` / ``QuantLinear``, whatever weight quantiser they hold, are swap candidates like ``nn.Conv2d`` /
  ``nn.Linear``: the ABC layer starts from their latent float weight and bias (``ABCConv2d.from_float``); their
  Brevitas quantisers are dropped, since ABC's bases replace them.
- A Brevitas activation layer (``QuantIdentity``, ``QuantReLU``, ``QuantHardTanh``) that directly precedes an ABC
  layer with binary activation bases (in registration order, with no other conv / linear layer between them)
  becomes ``nn.Identity``: the ABC layer's input quantiser ``sum_n beta_n H_{v_n}(x)`` is now the activation, and
  binarising an already binary ``sign(x)`` would leave its N bases nearly equal. The ABC layer reads what the
  activation read (a BatchNorm output, possibly max-pooled: thresholds commute with max-pooling). Activation
  layers in front of kept layers (the 8-bit input quantiser of a kept first layer, the binary activation of a
  kept classifier) stay as they are.
"""
from brevitas.nn import QuantConv2d, QuantHardTanh, QuantIdentity, QuantLinear, QuantReLU
from torch import nn

from brevitas_abc.nn.abc.layers import ABCConv2d, ABCLinear

#: Brevitas weight layer -> the ABC layer it becomes
BREVITAS_ABC_CLASS = {QuantConv2d: ABCConv2d, QuantLinear: ABCLinear}
#: Brevitas activation layers an ABC input quantiser replaces
BREVITAS_ACTIVATIONS = (QuantIdentity, QuantReLU, QuantHardTanh)


def absorbable_activations(model: nn.Module) -> list[tuple[str, str, str]]:
    """``(activation name, its type, ABC layer name)`` for every Brevitas activation layer directly before an ABC
    layer with binary activations (registration order; any conv / linear layer in between breaks the pair)."""
    found, pending = [], None
    for name, module in model.named_modules():
        if type(module) in BREVITAS_ACTIVATIONS:
            pending = (name, type(module).__name__)
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            if pending is not None and isinstance(module, (ABCConv2d, ABCLinear)) and module.num_act_bases is not None:
                found.append((*pending, name))
            pending = None
    return found


def absorb_activations_into_abc(model: nn.Module, replaced: set[str]) -> list[tuple[str, str, str]]:
    """Replace (in place) each Brevitas activation layer directly before a newly swapped ABC layer (a name in
    ``replaced``) with ``nn.Identity``; returns what it replaced, as ``absorbable_activations`` lists it."""
    done = [entry for entry in absorbable_activations(model) if entry[2] in replaced]
    for name, _, _ in done:
        model.set_submodule(name, nn.Identity())
    return done
