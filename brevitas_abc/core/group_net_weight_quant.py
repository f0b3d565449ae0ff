"""``GroupNetWeightQuant``: Group-Net's (XNOR-Net style) binary weight, ``w_hat_c = alpha_c sign(W_c)``.

``alpha_c = mean |W_c|`` per output channel, treated as a constant; the gradient is the identity straight-through
estimator through the sign, ``dL/dW = alpha dL/dw_hat`` (Zhuang et al. 2019, as ``BinaryConv2d``). This is a
uniform 1-bit quantiser with a per-channel scale, so it honours Brevitas's tensor-quant contract exactly:
``(alpha sign(W), alpha, 0, 1)``, and Brevitas's own exporter writes it as ``BipolarQuant(W, scale=alpha)``.
"""
import torch
from torch import Tensor, nn

from brevitas_abc.function.ste import sign_ste


class GroupNetWeightQuant(nn.Module):
    """``(alpha sign(W), alpha, 0, 1)`` with ``alpha = mean |W_c|`` per output channel (shape ``[C, 1, ...]``).

    >>> w_hat, alpha, _, bits = GroupNetWeightQuant()(torch.tensor([[1.0, -3.0], [0.5, 0.5]]))
    >>> w_hat.tolist(), alpha.flatten().tolist(), float(bits)
    ([[2.0, -2.0], [0.5, 0.5]], [2.0, 0.5], 1.0)
    """

    def __init__(self):  # explicit: Brevitas's injector cannot build a class whose __init__ takes *args
        super().__init__()

    def forward(self, weight: Tensor):
        alpha = weight.detach().abs().flatten(1).mean(1).view(-1, *([1] * (weight.dim() - 1)))
        zero_point = torch.zeros((), dtype=weight.dtype, device=weight.device)
        return alpha * sign_ste(weight), alpha, zero_point, torch.tensor(1.0, device=weight.device)
