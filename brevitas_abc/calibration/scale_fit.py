"""Fit Group-Net's activation thresholds and branch scales, and LBC's pointwise weights, to real data.

Group-Net, layer-wise (Zhuang et al. 2019, eq. 3): ``y = sum_k lambda_k alpha_k P_k(x) + b`` with
``P_k(x) = Conv(sign(W_k), sign(x + t))``, ``alpha_k`` the branch's per-channel XNOR scale ``mean |W_k|``. A swapped
layer starts at ``t = 0`` and ``lambda = 1``; after a ReLU every input is ``>= 0``, ``sign(x + 0) = +1`` everywhere
and a pretrained network drops to chance. ``fit_group_net_layer``:

1. thresholds, per input channel ``c``: the minimum squared-error 2-level quantiser of the channel's float input
   ``y_c`` (Lloyd-Max, ``brevitas_abc.calibration.act_fit``), its threshold carried to the layer's input ``x_c`` by
   quantile matching, never on a sample value; ``t_c = -threshold`` in every branch (``sign(x + t)`` flips there);
2. branch scales by least squares against the float layer's output ``z`` (per output channel an intercept, which
   the bias takes if the layer has one, else the BatchNorm after it):
   ``min_{lambda, d} sum_c ||z_c - sum_k lambda_k alpha_kc P_kc(x) - d_c||^2``, a K x K system.

LBC (Juefei-Xu et al. 2017): ``y = V sigma(B x) + b`` with fixed anchors ``B``. ``swap`` fits ``V`` in weight space,
``V = W B^+``, which ignores the ReLU ``sigma``. ``fit_lbc_layer`` fits it in data space instead, by ridge least
squares of the float layer's output on the anchor responses, per output channel with the bias as intercept:
``min_{V, b} ||z - V sigma(B x) - b||^2 + ridge * ||V||^2``. A binary or ABC pointwise convolution gets the fit as
its latent weight (its quantiser then approximates it; alpha is its own least-squares fit of the weight).
"""
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from brevitas_abc.calibration.act_fit import fit_multi_binary_act
from brevitas_abc.nn.group_net.binary import channel_scale


def _channels(t: Tensor) -> Tensor:
    """``[N, C, ...]`` -> ``[C, N * ...]``."""
    return t.transpose(0, 1).reshape(t.shape[1], -1)


def _branch_features(layer: nn.Module, x: Tensor) -> Tensor:
    """``[K, N, C, ...]``: ``alpha_kc P_kc(x)`` of every branch."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    return torch.stack([branch.binary_op(x) * channel_scale(branch.weight).view(shape) for branch in layer.branches])


@torch.no_grad()
def fit_group_net_layer(layer: nn.Module, x: Sequence[Tensor], y: Sequence[Tensor], z: Sequence[Tensor] | None,
                        method: str = "lloyd", clip: float = 1e-3, max_samples: int = 1 << 16,
                        generator: torch.Generator | None = None) -> dict:
    """Set a ``GroupNetConv2d`` / ``GroupNetLinear``'s thresholds, then its ``lambda`` (see the module docstring).

    Args:
        layer: the Group-Net layer (changed in place).
        x: batches of the layer's input in the model; y: the float input the float layer saw (same shapes);
        z: the float layer's output on those batches, or None (thresholds only).
        method, clip: as ``fit_multi_binary_act``; max_samples: values per channel used for a threshold.

    Returns:
        ``{"thresholds": [C_in], "scales": [K] or None, "relative_error": float or None}``, the last the squared
        error of the fitted output relative to the variance of ``z`` per channel.
    """
    xs, ys = _channels(torch.cat(list(x)).double()), _channels(torch.cat(list(y)).double())
    thresholds = torch.empty(xs.shape[0], dtype=torch.float64)
    for c in range(xs.shape[0]):
        xc, yc = xs[c].contiguous(), ys[c].contiguous()
        if xc.numel() > max_samples:
            keep = torch.randperm(xc.numel(), generator=generator)[:max_samples]
            xc, yc = xc[keep], yc[keep]
        thresholds[c] = 0.5 - fit_multi_binary_act(xc, 1, yc, method=method, clip=clip).shifts[0]
    for branch in layer.branches:
        branch.act_threshold.copy_((-thresholds).to(branch.act_threshold))
    if z is None:
        return {"thresholds": thresholds, "scales": None, "relative_error": None}
    k = layer.num_bases
    gram = torch.zeros(k, k, dtype=torch.float64)
    moment = torch.zeros(k, dtype=torch.float64)
    sums, target_sums, count, target_sq = None, None, 0, None
    for xb, zb in zip(x, z):
        f = _branch_features(layer, xb).double()
        f = f.transpose(1, 2).reshape(k, f.shape[2], -1)  # [K, C, samples]
        t = _channels(zb.double())  # [C, samples]
        gram += torch.einsum("kcs,jcs->kj", f, f)
        moment += torch.einsum("kcs,cs->k", f, t)
        sums = f.sum(dim=2) if sums is None else sums + f.sum(dim=2)
        target_sums = t.sum(dim=1) if target_sums is None else target_sums + t.sum(dim=1)
        target_sq = (t * t).sum(dim=1) if target_sq is None else target_sq + (t * t).sum(dim=1)
        count += t.shape[1]
    # per-channel intercepts d_c: centre features and target per channel (the normal equations of the intercepts)
    gram -= torch.einsum("kc,jc->kj", sums, sums) / count
    moment -= torch.einsum("kc,c->k", sums, target_sums) / count
    scales = torch.linalg.lstsq(gram + 1e-9 * gram.diagonal().mean() * torch.eye(k, dtype=torch.float64),
                                moment.unsqueeze(1)).solution.squeeze(1)
    layer.scales.copy_(scales.to(layer.scales))
    intercepts = (target_sums - scales @ sums) / count
    if layer.bias is not None:
        layer.bias.copy_(intercepts.to(layer.bias))
    variance = float((target_sq - target_sums ** 2 / count).sum())
    residual = variance - float(scales @ moment)
    return {"thresholds": thresholds, "scales": scales, "relative_error": residual / variance if variance else 0.0}


@torch.no_grad()
def fit_lbc_layer(layer: nn.Module, x: Sequence[Tensor], z: Sequence[Tensor], ridge: float = 1e-4) -> float:
    """Set an ``LBConv2d``'s pointwise weight (and bias) to the least-squares fit of ``z`` on ``sigma(B x)``.

    Args:
        layer: the LBC layer (changed in place); x: batches of its input; z: the float layer's output on them.
        ridge: relative ridge (times the mean diagonal of the Gram matrix), for anchors whose responses are
            (nearly) collinear.

    Returns:
        The squared error of the fit relative to the variance of ``z`` per channel (before quantising ``V``).
    """
    pointwise = layer.pointwise
    bias = pointwise.bias is not None
    m = layer.num_anchors + int(bias)
    gram = torch.zeros(m, m, dtype=torch.float64)
    moment = torch.zeros(m, pointwise.out_channels, dtype=torch.float64)
    target_sq, target_sums, count = 0.0, 0.0, 0
    for xb, zb in zip(x, z):
        r = _channels(layer.activation(layer.anchor_response(xb)).double())  # [m, samples]
        if bias:
            r = torch.cat([r, torch.ones(1, r.shape[1], dtype=torch.float64)])
        t = _channels(zb.double())  # [q, samples]
        gram += r @ r.T
        moment += r @ t.T
        target_sq = target_sq + (t * t).sum(dim=1)
        target_sums = target_sums + t.sum(dim=1)
        count += t.shape[1]
    penalty = ridge * gram.diagonal()[:layer.num_anchors].mean() * torch.eye(m, dtype=torch.float64)
    if bias:
        penalty[-1, -1] = 0.0
    solution = torch.linalg.solve(gram + penalty, moment)  # [m, q]
    pointwise.weight.copy_(solution[:layer.num_anchors].T.reshape(pointwise.weight.shape).to(pointwise.weight))
    if bias:
        pointwise.bias.copy_(solution[-1].to(pointwise.bias))
    variance = (target_sq - target_sums ** 2 / count).sum()
    residual = (target_sq.sum() - 2 * (solution * moment).sum() + (solution * (gram @ solution)).sum())
    return float(residual / variance) if float(variance) > 0 else 0.0
