"""``ExportBestToQONNX``: at the end of fit, load the best checkpoint (else the last weights), export
the network with ``brevitas_abc.export_qonnx`` and execute the graph to check it matches PyTorch."""
import copy
from pathlib import Path

import pytorch_lightning as pl
import torch

from lightning_modules.distillation import model_state_from_checkpoint


class ExportBestToQONNX(pl.Callback):
    """Export the best checkpoint's network to ``<dirpath>/<filename>`` with the round-trip check.

    Args:
        dirpath: output folder; None uses the trainer's log folder (``trainer.log_dir``).
        filename: name of the ``.onnx`` file.
        num_examples: images of the first validation batch used as the example input and for the check.
        atol: largest allowed ``max |QONNX - PyTorch|`` (a larger difference raises ``QONNXMismatchError``).
        model_attribute: the LightningModule attribute holding the network.

    After fit, ``self.report`` is the ``brevitas_abc.ExportReport`` (None if nothing was exported).
    """

    def __init__(self, dirpath: str | None = None, filename: str = "model.onnx", num_examples: int = 8,
                 atol: float = 1e-4, model_attribute: str = "model"):
        if num_examples < 1:
            raise ValueError(f"num_examples={num_examples!r} must be >= 1")
        self.dirpath, self.filename, self.num_examples = dirpath, filename, num_examples
        self.atol, self.model_attribute = atol, model_attribute
        self.report = None
        self.checkpoint_used: str | None = None

    def _example_input(self, trainer: pl.Trainer) -> torch.Tensor:
        loaders = trainer.val_dataloaders
        if loaders is None and trainer.datamodule is not None:
            loaders = trainer.datamodule.val_dataloader()
        if isinstance(loaders, (list, tuple)):
            loaders = loaders[0]
        if loaders is None:
            raise RuntimeError("ExportBestToQONNX needs a validation dataloader for its example input")
        batch = next(iter(loaders))
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return x[: self.num_examples].cpu()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        from brevitas_abc import export_qonnx  # lazily: export pulls in onnx/qonnx

        model = copy.deepcopy(getattr(pl_module, self.model_attribute)).cpu()
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if trainer.checkpoint_callback else ""
        if best:
            model.load_state_dict(model_state_from_checkpoint(best, prefix=self.model_attribute + "."))
            self.checkpoint_used = best
        folder = Path(self.dirpath or trainer.log_dir or trainer.default_root_dir)
        self.report = export_qonnx(model, self._example_input(trainer), folder / self.filename, atol=self.atol)
        print(self.report)
