"""``ProgressLines``: plain, flushed progress lines on stdout for logs (when stdout is not a terminal).

Lightning's progress bar redraws one terminal line; redirected to a file it prints nothing readable until the end
of an epoch (or at all, with ``enable_progress_bar=False``). This callback prints one line every
``every_n_steps`` training steps (epoch, step, loss, elapsed time, images per second) and one per validation,
only when ``sys.stdout`` is not a terminal (``when="auto"``). ``ClassificationModule`` adds it by default.
"""
import sys
import time

import pytorch_lightning as pl

WHEN = ("auto", "always", "never")


class ProgressLines(pl.Callback):
    """Print progress lines on stdout.

    Args:
        every_n_steps: a line every this many training batches (and at each epoch's last batch).
        when: "auto" (only if stdout is not a terminal), "always" or "never".
    """

    def __init__(self, every_n_steps: int = 50, when: str = "auto"):
        if not isinstance(every_n_steps, int) or isinstance(every_n_steps, bool) or every_n_steps < 1:
            raise ValueError(f"every_n_steps={every_n_steps!r} is not allowed: expected an int >= 1")
        if when not in WHEN:
            raise ValueError(f"when={when!r} is not allowed: expected one of {WHEN}")
        self.every_n_steps = every_n_steps
        self.when = when
        self._start = self._epoch_start = 0.0
        self._images = 0

    @property
    def enabled(self) -> bool:
        if self.when == "auto":
            isatty = getattr(sys.stdout, "isatty", None)
            return not (isatty is not None and isatty())
        return self.when == "always"

    def _print(self, trainer: "pl.Trainer", text: str) -> None:
        if self.enabled and trainer.is_global_zero:
            print(f"[train] {text} ({time.perf_counter() - self._start:.0f} s)", flush=True)

    def on_fit_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start, self._images = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        self._images += len(x)
        total = trainer.num_training_batches
        if (batch_idx + 1) % self.every_n_steps and batch_idx + 1 != total:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        loss_text = "" if loss is None else f" loss {float(loss):.4f}"
        rate = self._images / max(time.perf_counter() - self._epoch_start, 1e-9)
        self._print(trainer, f"epoch {trainer.current_epoch} step {batch_idx + 1}/{total}{loss_text}, "
                             f"{rate:.0f} images/s")

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith("val_") and getattr(v, "numel", lambda: 1)() == 1}
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()))
        self._print(trainer, f"epoch {trainer.current_epoch} validation: {shown or 'no metrics'}")
