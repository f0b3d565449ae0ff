"""Model registry: ``@register_model``, ``create_model(name, **kwargs)``, ``list_models(pattern)`` (as in timm),
and ``register_alias`` for names that older configs and checkpoints used."""
import fnmatch
from collections.abc import Callable

from torch import nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_ALIASES: dict[str, str] = {}


class UnknownModelError(ValueError):
    """``create_model`` was given a name that is not registered; the message lists the registered names."""


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a model constructor under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model name {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def register_alias(alias: str, name: str) -> None:
    """Make ``create_model(alias)`` build the registered model ``name`` (an old name kept working)."""
    if name not in _MODELS:
        raise ValueError(f"name={name!r} is not allowed: expected a registered model, one of {list_models()}")
    if alias in _MODELS or _ALIASES.get(alias, name) != name:
        raise ValueError(f"alias {alias!r} is already registered")
    _ALIASES[alias] = name


def resolve_alias(name: str) -> str:
    """The registered name behind ``name`` (``name`` itself when it is not an alias)."""
    return _ALIASES.get(name, name)


def list_models(pattern: str | None = None, include_aliases: bool = False) -> list[str]:
    """Sorted registered names (and the aliases with ``include_aliases``), optionally filtered by a
    shell-style ``pattern`` (``"resnet*"``)."""
    names = sorted(set(_MODELS) | (set(_ALIASES) if include_aliases else set()))
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def create_model(name: str, config=None, **kwargs) -> nn.Module:
    """Build the registered model ``name`` (or alias) with ``kwargs``; with ``config`` (``ABCConfig``, ``LBCConfig``,
    ``GroupNetConfig``...), swap it into that form, initialised from its float weights.

    Raises:
        UnknownModelError: ``name`` is not registered (the message lists what is).
    """
    if resolve_alias(name) not in _MODELS:
        raise UnknownModelError(f"model name {name!r} is not allowed: expected one of {list_models()} "
                                f"(or an alias: {sorted(_ALIASES)})")
    model = _MODELS[resolve_alias(name)](**kwargs)
    if config is not None:
        from brevitas_abc.swap.registry import swap

        model = swap(model, config, verbose=False)
    return model
