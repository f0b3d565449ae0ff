"""How ``finn_flow`` turns a training checkpoint into a torch module without importing training code.

``load_checkpoint(path, config)`` calls the registered loader (``register_checkpoint_loader``), or else resolves
:data:`DEFAULT_LOADER` by name, at that moment only: the training side (``lightning_modules.checkpoint``) is
imported when a checkpoint is built, never by ``import finn_flow``. The loader gets the checkpoint and config paths
and returns the network; a ``ValueError`` it raises becomes an :class:`InvalidModelError` with the same message.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from finn_flow.errors import InvalidModelError

#: ``"module:function"`` of the loader used when none is registered (abc-train checkpoints)
DEFAULT_LOADER = "lightning_modules.checkpoint:load_checkpoint"

_loader: Callable | None = None


def register_checkpoint_loader(loader: Callable | None) -> None:
    """Use ``loader(path, config) -> torch.nn.Module`` for checkpoints (None: back to :data:`DEFAULT_LOADER`)."""
    global _loader
    if loader is not None and not callable(loader):
        raise ValueError(f"loader={loader!r} is not allowed: expected a callable (path, config) -> nn.Module or None")
    _loader = loader


def checkpoint_loader() -> Callable:
    """The registered loader, or :data:`DEFAULT_LOADER` imported now.

    Raises:
        InvalidModelError: the default loader's package is not installed.
    """
    if _loader is not None:
        return _loader
    module_name, function = DEFAULT_LOADER.split(":")
    try:
        return getattr(importlib.import_module(module_name), function)
    except ImportError as error:
        raise InvalidModelError(f"building a checkpoint needs {DEFAULT_LOADER} (the training package), which does "
                                f"not import: {error}; export the model to QONNX and build the .onnx instead, or "
                                "register a loader with finn_flow.checkpoint_hook.register_checkpoint_loader") from error


def load_checkpoint(path: str | Path, config: str | Path):
    """The network stored in checkpoint ``path``, rebuilt with ``config`` by :func:`checkpoint_loader`.

    Raises:
        InvalidModelError: the loader's ``ValueError`` (a missing file, weights that do not fit the config, ...).
    """
    loader = checkpoint_loader()
    try:
        return loader(path, config)
    except ValueError as error:
        raise InvalidModelError(str(error)) from error
