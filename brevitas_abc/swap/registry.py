"""``swap(model, config)``: replace layers anywhere in a float model, initialised from its float weights.

A handler is registered per config type (as in torchao's ``quantize_``); ``swap`` does the shared work:
find candidates, keep the first/last float if the config says so, apply ``filter_fn``, replace, report.
Unlike torchao, a swap that matches nothing is an error that says why.
"""
import copy
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from torch import nn

from brevitas_abc.nn.exact_batchnorm import ExactBatchNorm1d, ExactBatchNorm2d, use_exact_batchnorm

logger = logging.getLogger("brevitas_abc.swap")


class SwapError(ValueError):
    """A swap matched nothing, or a matched module cannot be converted."""


@dataclass(frozen=True)
class SwapHandler:
    """How one config type swaps a model.

    Args:
        candidates: ``model -> [(qualified_name, module)]`` in registration order.
        replace: ``(module, config) -> new module``, raising ``SwapError`` when it cannot convert.
        describes: what a candidate is, for messages (e.g. "nn.Conv2d / nn.Linear").
        finish: optional ``(model, names of the replaced modules) -> [(name, old type, why)]``, run after the
            replacements: further modules it replaced because of them (e.g. a Brevitas activation in front of an
            ABC layer), listed in the report.
    """

    candidates: Callable[[nn.Module], list[tuple[str, nn.Module]]]
    replace: Callable[[nn.Module, object], nn.Module]
    describes: str
    finish: Callable[[nn.Module, set], list[tuple[str, str, str]]] | None = None


_HANDLERS: dict[type, SwapHandler] = {}


def register_swap_handler(config_type: type, handler: SwapHandler) -> None:
    _HANDLERS[config_type] = handler


@dataclass
class SwapReport:
    """What a swap did: replaced ``(name, old type, new type)`` and the candidates it kept, with the reason."""

    replaced: list[tuple[str, str, str]] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    exact_batchnorms: int = 0
    absorbed: list[tuple[str, str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"swap replaced {len(self.replaced)} layer(s):"]
        lines += [f"  {name}: {old} -> {new}" for name, old, new in self.replaced]
        lines += [f"  {name}: {old} -> Identity (the ABC input quantiser of {by} binarises instead)"
                  for name, old, by in self.absorbed]
        lines += [f"  {name}: kept ({why})" for name, why in self.kept]
        if self.exact_batchnorms:
            lines.append(f"  {self.exact_batchnorms} BatchNorm layer(s) -> ExactBatchNorm (eval x*a+b, bit-exact export)")
        return "\n".join(lines)


def _select(candidates, config, filter_fn, report: SwapReport):
    selected = list(candidates)
    if getattr(config, "keep_first", False) and selected:
        report.kept.append((selected[0][0], "first layer, keep_first=True"))
        selected = selected[1:]
    if getattr(config, "keep_last", False) and selected:
        report.kept.append((selected[-1][0], "last layer, keep_last=True"))
        selected = selected[:-1]
    if filter_fn is not None:
        rejected = [(name, module) for name, module in selected if not filter_fn(module, name)]
        report.kept += [(name, "filter_fn returned False") for name, _ in rejected]
        selected = [(name, module) for name, module in selected if filter_fn(module, name)]
    return selected


def swap(model: nn.Module, config, filter_fn: Callable[[nn.Module, str], bool] | None = None,
         verbose: bool = True, calibration_data: Iterable | None = None) -> nn.Module:
    """Replace every candidate layer of ``model`` (in place) by the form ``config`` asks for.

    Args:
        model: any torch model.
        config: e.g. ``ABCConfig``; its type selects the handler.
        filter_fn: ``(module, qualified_name) -> bool``; only modules for which it is True are replaced.
        verbose: print the report (it is always logged at INFO level on ``brevitas_abc.swap``).
        calibration_data: optional batches of real inputs (tensors or ``(inputs, labels)``, a few hundred
            images): the swapped model is then calibrated on them against a copy of the float model
            (``brevitas_abc.calibrate(model, calibration_data, reference=float_copy)``), so that a pretrained
            network keeps most of its accuracy before any training.

    Every plain BatchNorm becomes an ``ExactBatchNorm`` (same state dict and training behaviour; its eval
    forward computes ``x * a + b`` exactly as the exported graph does, so sign decisions cannot differ).

    Returns:
        The model (the new module itself if ``model`` was a single candidate layer).

    Raises:
        TypeError: ``config`` is not a registered config type.
        SwapError: nothing matched (the message says what was looked for and what was kept), or a matched
            module cannot be converted (the message names it).
    """
    handler = _HANDLERS.get(type(config))
    if handler is None:
        allowed = sorted(t.__name__ for t in _HANDLERS)
        raise TypeError(f"config of type {type(config).__name__} is not allowed: expected one of {allowed}")
    candidates = handler.candidates(model)
    if not candidates:
        raise SwapError(f"swap found nothing to replace in {type(model).__name__}: it has no {handler.describes}")
    report = SwapReport()
    reference = copy.deepcopy(model) if calibration_data is not None else None
    selected = _select(candidates, config, filter_fn, report)
    if not selected:
        raise SwapError(
            f"swap found {len(candidates)} {handler.describes} candidate(s) but replaced none:\n{report}\n"
            "Set keep_first/keep_last=False or relax filter_fn.")
    for name, module in selected:
        try:
            new = handler.replace(module, config)
        except (ValueError, TypeError) as error:
            raise SwapError(f"cannot convert module {name or '<root>'!r} ({type(module).__name__}): {error}") from error
        report.replaced.append((name or "<root>", type(module).__name__, type(new).__name__))
        if not name:
            model = new
        else:
            model.set_submodule(name, new)
    if handler.finish is not None:
        report.absorbed = handler.finish(model, {name for name, _, _ in report.replaced})
    # A sign follows most BatchNorms of a binary network: torch's fused BatchNorm kernel and ONNX Runtime's
    # differ by 1 ulp often enough to flip decisions, so the swapped model computes BatchNorm like its export.
    model = use_exact_batchnorm(model)
    report.exact_batchnorms = sum(isinstance(m, (ExactBatchNorm1d, ExactBatchNorm2d)) for m in model.modules())
    logger.info("%s", report)
    if verbose:
        print(report)
    if calibration_data is not None:
        from brevitas_abc.calibration import calibrate

        calibrate(model, calibration_data, reference=reference, verbose=verbose)
    return model
