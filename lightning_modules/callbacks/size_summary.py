"""``ModelSizeSummary``: at the start of fit, print ``brevitas_abc.summary`` (binary vs float bytes per
layer, the deployed size against the float model) and log its totals, as larq's model summary does."""
import pytorch_lightning as pl
from pytorch_lightning.utilities import rank_zero_info


class ModelSizeSummary(pl.Callback):
    """Print the per-layer size table and log ``size/deployed_bytes``, ``size/float_model_bytes``,
    ``size/compression`` and ``size/learned_params`` once, at the start of fit.

    Args:
        model_attribute: the LightningModule attribute holding the network.
        print_table: print the per-layer table (the totals are always logged).
    """

    def __init__(self, model_attribute: str = "model", print_table: bool = True):
        self.model_attribute = model_attribute
        self.print_table = print_table
        self.summary = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from brevitas_abc.summary import summary  # lazily, like the other brevitas_abc hooks

        self.summary = summary(getattr(pl_module, self.model_attribute))
        if self.print_table:
            rank_zero_info(str(self.summary))
        deployed = self.summary.deployed_bytes
        totals = {"size/deployed_bytes": float(deployed), "size/float_model_bytes": float(self.summary.float_model_bytes),
                  "size/compression": self.summary.float_model_bytes / max(deployed, 1.0),
                  "size/learned_params": float(self.summary.total.learned)}
        if trainer.logger is not None:
            trainer.logger.log_metrics(totals, step=0)
