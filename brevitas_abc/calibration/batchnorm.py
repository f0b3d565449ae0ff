"""Re-estimate BatchNorm running statistics of a model on calibration batches (BN re-estimation).

After a swap, every layer's output differs from the float layer's by its quantisation error, and the
calibrated activations add a constant offset (``A(x) ~ y - c``, :mod:`brevitas_abc.calibration.act_fit`).
A BatchNorm after the layer absorbs both if its statistics describe the swapped network: this recomputes
``running_mean`` and ``running_var`` as plain averages over the given batches (``momentum = None``), with every
other module in eval mode, then restores each BatchNorm's momentum and the modules' modes.
"""
from collections.abc import Sequence

import torch
from torch import Tensor, nn


def batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers (``ExactBatchNorm*`` included) that keep running statistics."""
    return [m for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, inputs: Sequence[Tensor]) -> int:
    """Recompute every BatchNorm's running statistics of ``model`` on ``inputs``; returns how many.

    The mean over batches of the batch means (and of the unbiased batch variances), as torch computes with
    ``momentum=None``; batches of equal size make it the statistics of the whole calibration set up to the
    variance of the batch means.
    """
    norms = batchnorms(model)
    if not norms:
        return 0
    modes = {m: m.training for m in model.modules()}
    momenta = {m: m.momentum for m in norms}
    try:
        model.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        for x in inputs:
            model(x)
    finally:
        for m, momentum in momenta.items():
            m.momentum = momentum
        for m, training in modes.items():
            m.train(training)
    return len(norms)
