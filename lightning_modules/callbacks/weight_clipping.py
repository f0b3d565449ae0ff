"""``LatentWeightClipping``: keep the latent real weights of binary layers in ``[-c, c]`` after every
optimiser step (BinaryConnect/larq practice; without it latent weights drift far past the point where
their sign can still flip, and the straight-through gradient stops mattering).

Which weights: the layer protocol's ``latent_weights`` (``brevitas_abc.nn.protocol``): every family layer's
``latent_weights()`` (ABC bases' latent weight, LBC's binary pointwise weight, every Group-Net branch's and binary
copy's weight) and the weight of every Brevitas layer hosting a family quantiser (``QuantConv2d(weight_quant=
ABCWeightPerChannelFloat)``, ``GroupNetBinaryWeightPerChannelFloat``; LBC's fixed anchors are not latent); then the
weight of every other Brevitas quant layer whose weight quantiser is enabled (stock binary or low-bit weights; a
``QuantConv2d(weight_quant=None)`` is a float layer and is left alone).
"""
import warnings

import pytorch_lightning as pl
import torch
from brevitas_abc.nn.protocol import hosted_family, latent_weights
from brevitas_abc.nn.protocol import is_binary_layer as is_family_layer
from torch import nn


def is_brevitas_quant_layer(module: nn.Module) -> bool:
    """A layer whose weight parameter goes through an enabled stock Brevitas quantiser (``weight_quant``)."""
    weight_quant = getattr(module, "weight_quant", None)
    return (isinstance(getattr(module, "weight", None), nn.Parameter) and hosted_family(module) is None
            and bool(getattr(weight_quant, "is_quant_enabled", False)))


def is_binary_layer(module: nn.Module) -> bool:
    """A layer with latent weights to clip: a family layer (``BinaryLayer``), a Brevitas layer hosting a family
    quantiser, or a stock Brevitas quant layer."""
    return is_family_layer(module) or hosted_family(module) is not None or is_brevitas_quant_layer(module)


def clipped_weights(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` of every weight ``LatentWeightClipping`` clips in ``model``, each once."""
    found = latent_weights(model)
    seen = {id(p) for _, p in found}
    for name, module in model.named_modules():
        if is_brevitas_quant_layer(module) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            found.append((f"{name}.weight" if name else "weight", module.weight))
    return found


class LatentWeightClipping(pl.Callback):
    """Clamp the latent weights of every binary layer (``clipped_weights``) to ``[-clip_value, clip_value]``.

    Args:
        clip_value: the bound, > 0 (1.0 as in BinaryConnect and larq's ``weight_clip``).

    Warns (at the start of fit) when the model has no binary layer, since then clipping does nothing.
    ``weight_names`` lists the clipped parameters after the start of fit.
    """

    def __init__(self, clip_value: float = 1.0):
        if not clip_value > 0:
            raise ValueError(f"clip_value={clip_value!r} must be > 0")
        self.clip_value = float(clip_value)
        self.weight_names: list[str] = []
        self._weights: list[nn.Parameter] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        found = clipped_weights(pl_module)
        self.weight_names = [name for name, _ in found]
        self._weights = [weight for _, weight in found]
        if not self._weights:
            warnings.warn("LatentWeightClipping: the model has no binary layer (no ABC, LBC or Group-Net layer and "
                          "no Brevitas layer with weight_quant); nothing will be clipped", stacklevel=2)

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for weight in self._weights:
            weight.clamp_(-self.clip_value, self.clip_value)
