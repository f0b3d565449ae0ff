"""``calibrate(model, batches)``: post-training calibration of a swapped network on a few hundred real inputs.

A float network swapped to ABC-Net starts its activations from a preset (``act_shifts="centered"``, betas 1) that
knows nothing of the scale of each layer's input: a trained CNN drops to chance until it is retrained.
Calibration sets them from data instead, the way Brevitas's ``calibration_mode`` sets the scales of its
activation quantisers from statistics:

1. Brevitas quantisers in the model (e.g. an 8-bit ``QuantIdentity`` on the input) collect their statistics
   under Brevitas's own ``calibration_mode`` (BatchNorm statistics are kept out of it).
2. The ABC layers with binary activations, in the order the forward pass reaches them, one at a time: the
   BatchNorm statistics are re-estimated on the network as calibrated so far
   (:mod:`~brevitas_abc.calibration.batchnorm`), the layer's input ``x`` is recorded on the batches, and
   its shifts and betas are fitted (:func:`~brevitas_abc.calibration.act_fit.fit_multi_binary_act`) to the
   float input ``y`` (the ``reference`` float network's input to the layer of the same name; ``x`` itself
   without a reference). The fit leaves ``A(x) ~ y - c``; a layer with a bias adds ``c * sum(W_hat)`` per
   output channel to it (exact away from padded borders).
   Then (``fit_weights=True``) the layer's latent weights are fitted to the input it now receives, its binary
   activations ``A(x)`` (:mod:`~brevitas_abc.calibration.weight_fit`: GPTQ's error feedback over the layer's M+1
   weight levels, minimising the output error ``(w - W_hat)^T E[a a^T] (w - W_hat)`` instead of the weight error).
   ABC layers with full-precision activations (N = None) get only this step.
3. The BatchNorm statistics are re-estimated once more on the whole calibrated network.

Measured on the CIFAR-10 CNV (width 0.5, float 83.00 %, 2,000 test images, 500 random training images;
``benchmarks/calibration.py``): calibrated ABC(5,5) 78.35 % with the activations and BatchNorms alone, 81.10 % with
the weights fitted too; ABC(3,3) 70.15 -> 75.80 %; weights-only ABC(3, None) 71.65 -> 80.40 %. Per layer (ABC(3,3),
one layer swapped, the rest float) no layer lost more than 7 points, and the weights-only network lost as much as
the whole ABC(3,3) one: the weights, not the activations, were where the accuracy went.

Before all that (``weight_shifts=True``, no data needed), each ABC layer's weight shifts ``u_m`` are fitted to its
own weights: ABC's bases ``B_m = sign(W - mean + u_m std)`` make ``sum_m alpha_m B_m`` an (M+1)-level quantiser
with thresholds ``mean - u_m std`` (DESIGN 1, thermometer code), so the thresholds are put where the minimum
squared-error (Lloyd-Max) (M+1)-level quantiser of the standardised weights ``(W - mean) / std`` (pooled over the
layer's groups) puts them, ``u_m = -t_m``; alpha stays the least-squares fit. The default shifts (evenly over
[-1, 1]) give every weight beyond one standard deviation the same level; on a CIFAR-10 CNV (float 74.4 %, 1,000
test images) weights-only ABC(5, None) kept 53.1 % with them and 72.7 % with fitted shifts.

Layers with full-precision activations (N = None) need no activation fit; their weights are fitted to their inputs
(``fit_weights``) like the others'.

Group-Net layer-wise layers (``GroupNetConv2d``, ``GroupNetLinear``, BPAC) and LBC layers (``LBConv2d``) are
calibrated in the same forward order, one at a time after the BatchNorm re-estimation
(:mod:`~brevitas_abc.calibration.scale_fit`): Group-Net's per-input-channel activation thresholds (from the layer's
float input, as for ABC) and branch scales ``lambda_k`` (least squares against the float layer's output); LBC's
pointwise weights and bias (least squares of the float layer's output on the anchor responses). Both targets come
from ``reference``; without one, Group-Net's thresholds are fitted to the layer's own input and the scales and LBC
are left as they are. Group-Net block/group modes and the fused LBC layer are not calibrated.
"""
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from brevitas_abc.calibration.act_fit import METHODS, ActFit, fit_multi_binary_act
from brevitas_abc.calibration.batchnorm import batchnorms, reestimate_batchnorm
from brevitas_abc.calibration.scale_fit import fit_group_net_layer, fit_lbc_layer
from brevitas_abc.calibration.weight_fit import WeightFit, fit_abc_weights
from brevitas_abc.nn.abc.layers import ABCLayerMixin
from brevitas_abc.nn.protocol import is_binary_layer

logger = logging.getLogger("brevitas_abc.calibration")


@dataclass
class CalibrationReport:
    """What ``calibrate`` did: per ABC layer ``(name, ActFit)``, and the counts of the other steps."""

    layers: list[tuple[str, ActFit]] = field(default_factory=list)
    weight_fits: list[tuple[str, WeightFit]] = field(default_factory=list)
    group_net_layers: list[tuple[str, dict]] = field(default_factory=list)
    lbc_layers: list[tuple[str, float]] = field(default_factory=list)
    images: int = 0
    weight_layers: int = 0
    brevitas_quantizers: int = 0
    batchnorms: int = 0

    def __str__(self) -> str:
        lines = [f"calibrate: {self.weight_layers} ABC weight shift set(s), {len(self.layers)} ABC activation(s) "
                 f"on {self.images} inputs, "
                 f"{self.brevitas_quantizers} Brevitas quantiser(s) by calibration_mode, "
                 f"{self.batchnorms} BatchNorm(s) re-estimated"]
        for name, fit in self.layers:
            thresholds = ", ".join(f"{0.5 - v:.3g}" for v in fit.shifts.tolist())
            betas = ", ".join(f"{b:.3g}" for b in fit.betas.tolist())
            lines.append(f"  {name}: thresholds [{thresholds}], betas [{betas}], "
                         f"relative error {fit.relative_error:.3f}")
        for name, fit in self.weight_fits:
            lines.append(f"  {name}: weights fitted to the layer's inputs in {fit.groups_fitted}/{fit.groups} group(s), "
                         f"output error {fit.error_before:.4g} -> {fit.error_after:.4g}")
        for name, fit in self.group_net_layers:
            scales = "not fitted" if fit["scales"] is None else \
                "[" + ", ".join(f"{v:.3g}" for v in fit["scales"].tolist()) + "], relative error " \
                f"{fit['relative_error']:.3f}"
            lines.append(f"  {name} (Group-Net): {fit['thresholds'].numel()} thresholds, scales {scales}")
        for name, error in self.lbc_layers:
            lines.append(f"  {name} (LBC): pointwise fitted, relative error {error:.3f}")
        return "\n".join(lines)


def _as_input(batch) -> Tensor:
    """A batch as the model's input: a tensor, or the first element of an ``(inputs, labels, ...)`` batch."""
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise TypeError(f"a calibration batch of type {type(batch).__name__} is not allowed: expected a tensor or a "
                    "(inputs, labels) tuple/list, as a DataLoader yields")


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _calibrated_kind(module: nn.Module) -> str | None:
    """"abc" (binary activations), "abc_weights" (ABC, full-precision activations), "group_net" (layer-wise) or
    "lbc": how ``calibrate`` fits ``module``, or None."""
    if isinstance(module, ABCLayerMixin):
        return "abc" if module.input_quant is not None else "abc_weights"
    if not is_binary_layer(module) or module.decomposition != "layer":
        return None
    if module.family == "group_net" and hasattr(module, "scales"):  # K scaled branches (not one BinaryConv2d)
        return "group_net"
    if module.family == "lbc" and hasattr(module, "anchors"):  # an LBConv2d (not the fused half-LBC layer)
        return "lbc"
    return None


def _layers_in_forward_order(model: nn.Module, inputs: list[Tensor]) -> list[tuple[str, nn.Module]]:
    named = {m: name for name, m in model.named_modules() if _calibrated_kind(m) is not None}
    order: list[nn.Module] = []
    hooks = [m.register_forward_pre_hook(lambda m, args: order.append(m) if m not in order else None)
             for m in named]
    try:
        with torch.no_grad():
            model(inputs[0])
    finally:
        for hook in hooks:
            hook.remove()
    return [(named[m], m) for m in order]


def _record_input(model: nn.Module, module: nn.Module, inputs: list[Tensor]) -> Tensor:
    """``module``'s input over all batches of ``inputs``, flattened into one vector."""
    return torch.cat([s.reshape(-1) for s in _record_batches(model, module, inputs)])


@torch.no_grad()
def _record_batches(model: nn.Module, module: nn.Module, inputs: list[Tensor], output: bool = False) -> list[Tensor]:
    """``module``'s input (or output) on each batch of ``inputs``, as the forward pass of ``model`` reaches it."""
    seen: list[Tensor] = []
    if output:
        hook = module.register_forward_hook(lambda m, args, out: seen.append(out.detach().float().cpu()))
    else:
        hook = module.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().float().cpu()))
    try:
        for x in inputs:
            model(x)
    finally:
        hook.remove()
    return seen


def _brevitas_calibration(model: nn.Module, inputs: list[Tensor]) -> int:
    """Run Brevitas's ``calibration_mode`` over ``inputs`` if the model has statistics-based Brevitas quantisers."""
    collecting = [m for m in model.modules() if hasattr(m, "collect_stats_steps")]
    if not collecting:
        return 0
    from brevitas.graph.calibrate import calibration_mode

    norms = batchnorms(model)
    saved = {m: {k: v.clone() for k, v in m.state_dict().items()} for m in norms}
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    with torch.no_grad(), calibration_mode(model):
        for m in norms + dropouts:
            m.eval()
        for x in inputs:
            model(x)
    for m, state in saved.items():
        m.load_state_dict(state)
    return len(collecting)


@torch.no_grad()
def _fit_weight_shifts(model: nn.Module) -> int:
    """Set each ABC layer's weight shifts to the Lloyd-Max thresholds of its standardised weights; returns how many."""
    from brevitas_abc.calibration.act_fit import quantiser_levels

    count = 0
    for module in model.modules():
        if not isinstance(module, ABCLayerMixin):
            continue
        quant = module.weight_quant
        groups = quant._groups(module.weight.detach())
        std = groups.std(dim=1, keepdim=True)
        standardised = (groups - groups.mean(dim=1, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))
        _, thresholds = quantiser_levels(standardised, quant.num_bases, "lloyd")
        quant.shifts.copy_((-thresholds).flip(0).to(quant.shifts))  # B_m = sign(z + u_m): threshold z = -u_m
        count += 1
    return count


def _subsample(values: Tensor, max_samples: int, generator: torch.Generator) -> Tensor | None:
    if values.numel() <= max_samples:
        return None
    return torch.randperm(values.numel(), generator=generator)[:max_samples]


@torch.no_grad()
def _set_fit(layer: nn.Module, fit: ActFit, x: Tensor, y: Tensor) -> float:
    """Write the fit into the layer's quantiser; correct its bias for the offset; returns the offset used."""
    quant = layer.input_quant
    quant.shifts.copy_(fit.shifts.to(quant.shifts))
    quant.betas.copy_(fit.betas.to(quant.betas))
    # The betas used may be rounded (coefficient_bits): measure the offset of the activation as it computes.
    device = quant.shifts.device
    a = quant(x.to(device))[0].cpu().double()
    offset = float((y.double() - a).mean())
    if layer.bias is not None:
        w_hat = layer.weight_quant(layer.weight)[0]
        layer.bias.add_(offset * w_hat.reshape(w_hat.shape[0], -1).sum(dim=1))
    return offset


def _fit_scales(model, reference, ref_modules, name, layer, kind, inputs, report, method, clip, generator) -> None:
    """Calibrate one Group-Net or LBC layer (``scale_fit``) against the reference's layer of the same name."""
    if reference is not None and name not in ref_modules:  # e.g. the LBC half inside a FusedLBConv2d
        logger.info("calibrate: %s has no float counterpart in the reference; left as it is", name)
        return
    x = _record_batches(model, layer, inputs)
    y = z = None
    if reference is not None:
        ref_inputs = [i.to(_device(reference)) for i in inputs]
        y = _record_batches(reference, ref_modules[name], ref_inputs)
        z = _record_batches(reference, ref_modules[name], ref_inputs, output=True)
        if [t.shape for t in y] != [t.shape for t in x]:
            raise ValueError(f"layer {name!r}: the reference's input has shape {tuple(y[0].shape)}, the model's "
                             f"{tuple(x[0].shape)}: expected the same shapes")
    device = _device(model)
    if kind == "group_net":
        fit = fit_group_net_layer(layer, [t.to(device) for t in x], x if y is None else y,
                                  None if z is None else [t.to(device) for t in z], method=method, clip=clip,
                                  generator=generator)
        report.group_net_layers.append((name, fit))
    elif z is not None:
        report.lbc_layers.append((name, fit_lbc_layer(layer, [t.to(device) for t in x], [t.to(device) for t in z])))


def calibrate(model: nn.Module, batches: Iterable, reference: nn.Module | None = None, method: str = "lloyd",
              clip: float = 1e-3, max_samples: int = 1 << 20, seed: int = 0, weight_shifts: bool = True,
              fit_weights: bool = True, verbose: bool = True) -> CalibrationReport:
    """Calibrate a swapped model's ABC activations (shifts and betas), Group-Net thresholds and branch scales,
    LBC pointwise weights, Brevitas quantisers and BatchNorms.

    Args:
        model: a model with ABC, layer-wise Group-Net or LBC layers (after ``swap``); changed in place, left in its
            original train/eval mode.
        batches: an iterable of input tensors or ``(inputs, labels)`` batches (e.g. a DataLoader over a few
            hundred real training images, preprocessed as in training); it is read once and kept in memory.
        reference: the float model before the swap (same module names): each ABC layer's target is the input
            the float layer received (e.g. ``relu(x)`` where the ReLU before an ABC layer was dropped). None:
            the layer's own input.
        method: "lloyd" (minimum squared-error levels; the default) or "uniform" (levels evenly spaced over the
            observed range, thresholds at the bin centres); see :mod:`brevitas_abc.calibration.act_fit`.
        clip: fraction of the sample left outside the observed range at each end ("uniform", and Lloyd's start).
        max_samples: values per layer used for the fit (a seeded random subset beyond that).
        seed: seed of that subset.
        weight_shifts: fit every ABC layer's weight shifts to its weights (Lloyd-Max thresholds of the standardised
            weights; see the module docstring).
        fit_weights: fit every ABC layer's latent weights to its inputs on the batches (GPTQ over the layer's
            weight levels, :mod:`~brevitas_abc.calibration.weight_fit`), after its activation.
        verbose: print the report (it is always logged at INFO level on ``brevitas_abc.calibration``).

    Returns:
        A ``CalibrationReport``: the thresholds, betas and relative squared error of each ABC activation, and the
        fits of the Group-Net and LBC layers.

    Raises:
        ValueError: no batch, an unknown ``method``, no layer to calibrate, or a reference whose layer input
            does not match the model's (naming the layer and both shapes).
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed: expected one of {METHODS}")
    device = _device(model)
    inputs = [_as_input(b).to(device) for b in batches]
    if not inputs:
        raise ValueError("batches is empty: calibrate needs at least one batch of real inputs")
    report = CalibrationReport(images=sum(len(x) for x in inputs))
    was_training = model.training
    generator = torch.Generator().manual_seed(seed)
    try:
        model.eval()
        report.brevitas_quantizers = _brevitas_calibration(model, inputs)
        if weight_shifts:
            report.weight_layers = _fit_weight_shifts(model)
        layers = _layers_in_forward_order(model, inputs)
        if not layers and not report.brevitas_quantizers and not report.weight_layers:
            raise ValueError(f"{type(model).__name__} has no ABC layer with binary activations, no Group-Net or LBC "
                             "layer and no Brevitas activation quantiser to calibrate (swap it with an ABCConfig, "
                             "GroupNetConfig or LBCConfig first)")
        ref_modules = dict(reference.named_modules()) if reference is not None else {}
        if reference is not None:
            reference.eval()
        for name, layer in layers:
            report.batchnorms = reestimate_batchnorm(model, inputs)
            kind = _calibrated_kind(layer)
            if kind == "abc_weights":
                if fit_weights:
                    report.weight_fits.append((name, fit_abc_weights(layer, _record_batches(model, layer, inputs))))
                continue
            if kind != "abc":
                _fit_scales(model, reference, ref_modules, name, layer, kind, inputs, report, method, clip, generator)
                continue
            seen = _record_batches(model, layer, inputs)
            x = torch.cat([s.reshape(-1) for s in seen])
            y = None
            if reference is not None:
                if name not in ref_modules:
                    raise ValueError(f"reference has no module {name!r}: expected the float model the ABC model "
                                     "was swapped from (same module names)")
                y = _record_input(reference, ref_modules[name], [i.to(_device(reference)) for i in inputs])
                if y.numel() != x.numel():
                    raise ValueError(f"layer {name!r}: the reference's input has {y.numel()} values, the model's "
                                     f"{x.numel()}: expected the same shapes")
            keep = _subsample(x, max_samples, generator)
            if keep is not None:
                x = x[keep]
                y = None if y is None else y[keep]
            fit = fit_multi_binary_act(x, layer.input_quant.num_bases, y, method=method, clip=clip)
            _set_fit(layer, fit, x, x if y is None else y)
            report.layers.append((name, fit))
            if fit_weights:
                report.weight_fits.append((name, fit_abc_weights(layer, [t.to(device) for t in seen])))
        report.batchnorms = reestimate_batchnorm(model, inputs)
    finally:
        model.train(was_training)
    logger.info("%s", report)
    if verbose:
        print(report)
    return report
