"""``ClassificationModule``: the training logic for any image classifier (float, ABC-swapped, LBC,
Group-Net ...); the network itself is a plain ``nn.Module`` given from outside."""
from typing import Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from lightning_modules.distillation import distillation_loss, load_stage_weights, model_state_from_checkpoint
from lightning_modules.rng_state import get_rng_states, set_rng_states

SCHEDULER_INTERVALS = ("epoch", "step")


def default_optimizer(params):
    """SGD with momentum 0.9, lr 0.1, weight decay 5e-4 (the usual CIFAR recipe)."""
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)


class ClassificationModule(pl.LightningModule):
    """Cross-entropy classification with optional distillation, top-1/top-5 accuracy and injected
    optimiser and LR schedule (LightningCLI conventions: ``class_path`` + ``init_args`` in YAML).

    Args:
        model: the network (any ``nn.Module`` mapping images to logits).
        num_classes: number of classes (for the accuracy metrics).
        optimizer: callable ``params -> Optimizer`` (e.g. ``torch.optim.Adam`` with its init args).
        lr_scheduler: callable ``optimizer -> LRScheduler``, or None for a constant rate.
        scheduler_interval: step the schedule every "epoch" or every "step".
        label_smoothing: cross-entropy label smoothing in [0, 1).
        teacher: a float network to distil from (frozen, kept in eval mode), or None.
        teacher_checkpoint: weights for ``teacher`` (a ``ClassificationModule`` checkpoint or a state dict).
        distill_weight: loss = (1 - w) * CE + w * KD; in [0, 1].
        distill_temperature: softmax temperature of the distillation loss, > 0.
        init_from: checkpoint of the previous stage of the staged recipe; its weights initialise
            ``model`` (the quantiser state a new stage adds starts fresh).
        progress_lines: print plain progress lines on stdout every this many training steps when stdout is not
            a terminal (a log file; ``lightning_modules.callbacks.ProgressLines``); 0 turns them off.

    Fitting puts the whole network in train mode (BatchNorm batch statistics, Dropout) whatever mode it was
    handed in, and says so when it was in eval mode; the teacher always stays in eval mode.
    """

    def __init__(self, model: nn.Module, num_classes: int = 10, optimizer: OptimizerCallable = default_optimizer,
                 lr_scheduler: LRSchedulerCallable | None = None,
                 scheduler_interval: Literal["epoch", "step"] = "epoch", label_smoothing: float = 0.0,
                 teacher: nn.Module | None = None, teacher_checkpoint: str | None = None,
                 distill_weight: float = 0.5, distill_temperature: float = 4.0, init_from: str | None = None,
                 progress_lines: int = 50):
        super().__init__()
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes={num_classes!r} must be an int >= 2")
        if scheduler_interval not in SCHEDULER_INTERVALS:
            raise ValueError(f"scheduler_interval={scheduler_interval!r} is not allowed: expected one of {SCHEDULER_INTERVALS}")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing={label_smoothing!r} must be in [0, 1)")
        if not 0.0 <= distill_weight <= 1.0:
            raise ValueError(f"distill_weight={distill_weight!r} must be in [0, 1]")
        if distill_temperature <= 0:
            raise ValueError(f"distill_temperature={distill_temperature!r} must be > 0")
        if not isinstance(progress_lines, int) or isinstance(progress_lines, bool) or progress_lines < 0:
            raise ValueError(f"progress_lines={progress_lines!r} must be an int >= 0 (0: no progress lines)")
        if teacher_checkpoint is not None and teacher is None:
            raise ValueError("teacher_checkpoint is given but teacher is None: give the teacher's architecture too")
        self.save_hyperparameters(ignore=["model", "teacher", "optimizer", "lr_scheduler"])
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler
        self.scheduler_interval = scheduler_interval
        self.label_smoothing = label_smoothing
        self.distill_weight = distill_weight
        self.distill_temperature = distill_temperature
        self.teacher = teacher
        self.progress_lines = progress_lines
        if teacher is not None:
            if teacher_checkpoint is not None:
                teacher.load_state_dict(model_state_from_checkpoint(teacher_checkpoint))
            teacher.requires_grad_(False)
            teacher.eval()
        if init_from is not None:
            load_stage_weights(self.model, init_from)
        top5 = min(5, num_classes)
        self.metrics = nn.ModuleDict({
            f"{stage}_acc{k}": MulticlassAccuracy(num_classes, top_k=k, average="micro")
            for stage in ("train", "val", "test") for k in (1, top5)})

    def train(self, mode: bool = True):
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # BatchNorm/Dropout of the frozen teacher never switch to training
        return self

    def configure_callbacks(self):
        """``ProgressLines`` (unless the trainer has one already or ``progress_lines=0``)."""
        from lightning_modules.callbacks.progress_lines import ProgressLines

        has_one = self._trainer is not None and any(isinstance(c, ProgressLines) for c in self.trainer.callbacks)
        return [] if has_one or not self.progress_lines else [ProgressLines(every_n_steps=self.progress_lines)]

    def on_fit_start(self) -> None:
        """Put the network in train mode (the teacher stays in eval); warn (as larq does) when binary layers train
        without latent weight clipping."""
        from pytorch_lightning.utilities import rank_zero_info

        from lightning_modules.callbacks.weight_clipping import LatentWeightClipping, is_binary_layer

        in_eval = sorted(name or "<model>" for name, m in self.model.named_modules() if not m.training)
        if in_eval:
            rank_zero_info(f"ClassificationModule: {len(in_eval)} module(s) of the network were in eval mode "
                           f"({', '.join(in_eval[:3])}{', ...' if len(in_eval) > 3 else ''}); fitting trains them "
                           "(BatchNorm batch statistics, Dropout)")
        self.train()

        binary = any(is_binary_layer(m) for m in self.model.modules())
        clipped = any(isinstance(c, LatentWeightClipping) for c in self.trainer.callbacks)
        if binary and not clipped:
            import warnings

            warnings.warn("the model has binary layers but no LatentWeightClipping callback: latent weights may "
                          "grow without bound (add lightning_modules.callbacks.LatentWeightClipping)", stacklevel=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _loss(self, logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor, stage: str) -> torch.Tensor:
        ce = F.cross_entropy(logits, y, label_smoothing=self.label_smoothing if stage == "train" else 0.0)
        self.log(f"{stage}_ce", ce, on_step=False, on_epoch=True, sync_dist=stage != "train")
        if self.teacher is None or stage != "train":
            return ce
        with torch.no_grad():
            teacher_logits = self.teacher(x)
        kd = distillation_loss(logits, teacher_logits, self.distill_temperature)
        self.log("train_kd", kd, on_step=False, on_epoch=True)
        return (1 - self.distill_weight) * ce + self.distill_weight * kd

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self._loss(logits, x, y, stage)
        self.log(f"{stage}_loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=stage != "test",
                 sync_dist=stage != "train")
        for name, metric in self.metrics.items():
            if name.startswith(stage + "_"):
                metric(logits, y)
                self.log(name, metric, on_step=False, on_epoch=True, prog_bar=name.endswith("acc1"))
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        """Class probabilities ``[B, num_classes]``."""
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self(x).softmax(dim=-1)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Store the global RNG states, so a resumed run draws the same dropout masks as an uninterrupted one, and
        the preprocessing of the datamodule (``checkpoint["preprocessing"]``: pixel_scale, mean, std), which
        ``finn_flow.build`` applies to raw pixels."""
        checkpoint["rng_states"] = get_rng_states()
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        preprocessing = getattr(datamodule, "preprocessing", None)
        if isinstance(preprocessing, dict):
            checkpoint["preprocessing"] = preprocessing

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Restore the RNG states; from a mid-epoch checkpoint only right before the next training batch: resuming
        creates data iterators (and runs the sanity check), which draw from the global RNG, where the uninterrupted
        run went straight on to that batch."""
        if "rng_states" not in checkpoint:
            return
        progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_loop.batch_progress", {})
        if progress and not progress.get("is_last_batch", True) and progress["current"]["processed"] > 0:
            self._pending_rng_states = checkpoint["rng_states"]
        else:
            set_rng_states(checkpoint["rng_states"])

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        pending = self.__dict__.pop("_pending_rng_states", None)
        if pending is not None:
            set_rng_states(pending)

    def configure_optimizers(self):
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params)
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}
