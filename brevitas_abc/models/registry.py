"""Model registry: ``@register_model``, ``create_model(name, **kwargs)``, ``list_models(pattern)`` (as in timm)."""
import fnmatch
from collections.abc import Callable

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(ValueError):
    """``create_model`` was given a name that is not registered; the message lists the registered names."""


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a model constructor under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model name {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted registered names, optionally filtered by a shell-style ``pattern`` (``"resnet*"``)."""
    names = sorted(_MODELS)
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def create_model(name: str, config=None, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with ``kwargs``; with ``config`` (``ABCConfig``, ``LBCConfig``,
    ``GroupNetConfig``...), swap it into that form, initialised from its float weights.

    Raises:
        UnknownModelError: ``name`` is not registered (the message lists what is).
    """
    if name not in _MODELS:
        raise UnknownModelError(f"model name {name!r} is not allowed: expected one of {list_models()}")
    model = _MODELS[name](**kwargs)
    if config is not None:
        from brevitas_abc.swap.registry import swap

        model = swap(model, config, verbose=False)
    return model
