"""``abc-train``: the command line, built on LightningCLI.

    abc-train fit --config lightning_modules/configs/lfc_abc_mnist.yaml
    abc-train test --config lightning_modules/configs/lfc_abc_mnist.yaml --ckpt_path outputs/.../best.ckpt
    abc-train fit --config <yaml> --trainer.max_epochs 3 --data.init_args.batch_size 64

The model is always ``ClassificationModule``; its ``model`` (any ``nn.Module``, e.g.
``lightning_modules.models.build_model``), the datamodule, optimiser, LR schedule and callbacks come
from the YAML as ``class_path`` / ``init_args``. ``abc-train --help`` lists every option.

Exit status (``main``, the console script and ``python -m lightning_modules.cli``): 0 when the subcommand ran to
its end, 1 when it raised or the trainer stopped early (interrupted), 2 on bad command-line usage.
"""
import sys

import pytorch_lightning as pl
from pytorch_lightning.cli import LightningCLI

from lightning_modules.module import ClassificationModule


def cli_main(args: list[str] | dict | None = None, run: bool = True) -> LightningCLI:
    """Entry point of ``abc-train``; ``args`` replaces ``sys.argv[1:]`` (for tests and notebooks), or is a config
    mapping (LightningCLI takes both).

    With ``run=False`` the objects are built but no subcommand runs (pass no subcommand in ``args``).
    """
    return LightningCLI(ClassificationModule, pl.LightningDataModule, subclass_mode_data=True, args=args, run=run,
                        auto_configure_optimizers=False, save_config_kwargs={"overwrite": True})


def main(args: list[str] | None = None) -> int:
    """``abc-train``: run ``cli_main(args)``; 0 if the trainer finished its subcommand, else 1.

    An exception propagates (Python then exits with status 1 and prints the traceback); a parse error exits 2.
    """
    cli = cli_main(args)
    state = cli.trainer.state
    if not state.finished:
        print(f"abc-train: error: the trainer stopped with status {state.status.value!r}, expected 'finished'",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
