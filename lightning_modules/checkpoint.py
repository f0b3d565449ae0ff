"""``load_checkpoint``: the trained network of an ``abc-train`` (Lightning) checkpoint, rebuilt from its config.

This is the training side of ``abc-build model.ckpt --config config.yaml``: ``finn_flow`` imports no training
code, and resolves this loader by name only when it is given a checkpoint (``finn_flow.checkpoint_hook``).
"""
from __future__ import annotations

from pathlib import Path

#: the keys of an abc-train config that build the objects (a subcommand's saved config.yaml has more, such as
#: ckpt_path and weights_only, which building the model alone does not take)
CONFIG_KEYS = ("seed_everything", "trainer", "model", "data")


class CheckpointError(ValueError):
    """A checkpoint or config that cannot be loaded; the message names the file and the reason."""


def load_checkpoint(path: str | Path, config: str | Path):
    """The trained network of an ``abc-train`` (Lightning) checkpoint, in eval mode.

    The checkpoint holds weights, not the architecture (``ClassificationModule`` does not save its ``model``
    argument), so the YAML it was trained with (the ``config.yaml`` that ``abc-train fit`` saves next to its logs,
    or the config file given to it) rebuilds the module (``abc-train`` with no subcommand) and the checkpoint's
    ``state_dict`` fills it, strictly.

    Raises:
        CheckpointError: a missing file, a file that is not a Lightning checkpoint, a config that is not an
            abc-train config, or a checkpoint whose weights do not fit the config's model.
    """
    import torch
    import yaml

    path, config = Path(path), Path(config)
    for name, file in (("model", path), ("config", config)):
        if not file.is_file():
            raise CheckpointError(f"{name}={str(file)!r}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    except Exception as error:
        raise CheckpointError(f"model={str(path)!r} is not a Lightning checkpoint: {type(error).__name__}: "
                              f"{error}") from error
    settings = yaml.safe_load(config.read_text()) or {}
    settings = {key: value for key, value in settings.items() if key in CONFIG_KEYS}
    from lightning_modules.cli import cli_main  # LightningCLI: imported only once the files are known good

    try:
        module = cli_main(settings, run=False).model
    except SystemExit as error:  # jsonargparse reports a bad config by exiting
        raise CheckpointError(f"config={str(config)!r} is not an abc-train config (see the message above)") from error
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"model={str(path)!r} does not fit the model of config={str(config)!r}: "
                              f"{str(error)[:500]}") from error
    return module.model.eval()
