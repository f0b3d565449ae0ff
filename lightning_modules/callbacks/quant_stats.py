"""``QuantStatsLogger``: per-layer logging of ABC-Net's alpha (computed from the current weights),
beta and shifts, and of any other quantiser or gate tensor found by name (Group-Net's fusion gates,
branch scales), so their evolution shows up in the CSV/TensorBoard logs."""
import re

import pytorch_lightning as pl
import torch
from torch import nn

DEFAULT_PATTERN = r"(^|\.)(betas?|alphas?|shifts|gates?|gate_\w+|lambdas?|scales?)$"


def _summaries(name: str, value: torch.Tensor, max_elements: int) -> dict[str, float]:
    value = value.detach().float().flatten()
    if value.numel() <= max_elements:
        return {f"{name}[{i}]": float(v) for i, v in enumerate(value)}
    return {f"{name}.mean": float(value.mean()), f"{name}.std": float(value.std()),
            f"{name}.min": float(value.min()), f"{name}.max": float(value.max())}


def collect_quant_stats(model: nn.Module, pattern: str = DEFAULT_PATTERN, max_elements: int = 8) -> dict[str, float]:
    """``{key: value}`` for every parameter/buffer whose name matches ``pattern`` and for the alpha of
    every ABC weight quantiser (one value per base, averaged over output channels when per-channel).
    Tensors with more than ``max_elements`` elements are summarised by mean/std/min/max."""
    regex = re.compile(pattern)
    stats = {}
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if regex.search(name):
            stats.update(_summaries(name, tensor, max_elements))
    for name, module in model.named_modules():
        quant = getattr(module, "weight_quant", None)
        if quant is not None and hasattr(quant, "bases_and_alpha"):
            with torch.no_grad():
                _, alpha = quant.bases_and_alpha(module.weight)  # [G, M]
            stats.update(_summaries(f"{name}.weight_quant.alpha", alpha.mean(dim=0), max_elements))
    return stats


class QuantStatsLogger(pl.Callback):
    """Log ``collect_quant_stats`` of the model under ``quant/<name>`` at the end of every training epoch
    (and every ``every_n_steps`` training steps when > 0).

    Args:
        pattern: regular expression on parameter/buffer names to log.
        max_elements: tensors larger than this are summarised (mean/std/min/max) instead of listed.
        every_n_steps: also log every that many training steps; 0 logs only per epoch.
    """

    def __init__(self, pattern: str = DEFAULT_PATTERN, max_elements: int = 8, every_n_steps: int = 0):
        re.compile(pattern)
        if max_elements < 1:
            raise ValueError(f"max_elements={max_elements!r} must be >= 1")
        if every_n_steps < 0:
            raise ValueError(f"every_n_steps={every_n_steps!r} must be >= 0")
        self.pattern, self.max_elements, self.every_n_steps = pattern, max_elements, every_n_steps
        self.last: dict[str, float] = {}

    def _log(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.last = collect_quant_stats(pl_module, self.pattern, self.max_elements)
        if self.last and trainer.logger is not None:
            trainer.logger.log_metrics({f"quant/{k}": v for k, v in self.last.items()}, step=trainer.global_step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self._log(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._log(trainer, pl_module)
