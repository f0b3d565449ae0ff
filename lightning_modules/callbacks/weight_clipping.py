"""``LatentWeightClipping``: keep the latent real weights of binary layers in ``[-c, c]`` after every
optimiser step (BinaryConnect/larq practice; without it latent weights drift far past the point where
their sign can still flip, and the straight-through gradient stops mattering)."""
import pytorch_lightning as pl
import torch
from torch import nn


def is_binary_layer(module: nn.Module) -> bool:
    """A layer whose weight goes through a quantiser: ABC layers and Brevitas quant layers (``weight_quant``)."""
    return isinstance(getattr(module, "weight", None), nn.Parameter) and hasattr(module, "weight_quant")


class LatentWeightClipping(pl.Callback):
    """Clamp the latent weights of every binary layer (``is_binary_layer``) to ``[-clip_value, clip_value]``.

    Args:
        clip_value: the bound, > 0 (1.0 as in BinaryConnect and larq's ``weight_clip``).

    Warns (at the start of fit) when the model has no binary layer, since then clipping does nothing.
    """

    def __init__(self, clip_value: float = 1.0):
        if not clip_value > 0:
            raise ValueError(f"clip_value={clip_value!r} must be > 0")
        self.clip_value = float(clip_value)
        self.layer_names: list[str] = []

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.layer_names = [name for name, m in pl_module.named_modules() if is_binary_layer(m)]
        if not self.layer_names:
            import warnings

            warnings.warn("LatentWeightClipping: the model has no binary layer (no module with weight_quant); "
                          "nothing will be clipped", stacklevel=2)

    @torch.no_grad()
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for name in self.layer_names:
            pl_module.get_submodule(name).weight.clamp_(-self.clip_value, self.clip_value)
