"""Binarisation functions with the straight-through gradients of ABC-Net (Lin, Zhao, Pan 2017).

Both functions map 0 to +1, the convention of Brevitas's ``binary_sign`` and of QONNX's ``BipolarQuant``,
so that a trained model and its exported graph take identical decisions on ties. Forward values are
exactly +-1 (no ``x + (h - x).detach()`` trick, whose rounding can leave 1.0000001).
"""
import torch
from torch import Tensor


def _bipolar(x: Tensor) -> Tensor:
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return _bipolar(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return grad


class _ShiftedBinaryActSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, shift: Tensor) -> Tensor:
        shifted = x + (shift - 0.5)
        ctx.save_for_backward(shifted)
        ctx.shift_shape = shift.shape
        return _bipolar(shifted)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (shifted,) = ctx.saved_tensors
        # 1[0 <= x + v <= 1]  <=>  1[-0.5 <= x + v - 0.5 <= 0.5]
        grad_x = grad * ((shifted >= -0.5) & (shifted <= 0.5)).to(grad.dtype)
        grad_shift = grad_x.sum_to_size(ctx.shift_shape) if ctx.needs_input_grad[1] else None
        return grad_x, grad_shift


def sign_ste(x: Tensor) -> Tensor:
    """Bipolar sign with the identity straight-through gradient (ABC-Net eq. 4).

    Forward: ``sign(x)`` with ``sign(0) = +1``. Backward: ``dL/dx = dL/dsign(x)``.

    >>> sign_ste(torch.tensor([-0.5, 0.0, 2.0]))
    tensor([-1.,  1.,  1.])
    """
    return _SignSTE.apply(x)


def shifted_binary_act_ste(x: Tensor, shift: Tensor) -> Tensor:
    """ABC-Net's binary activation ``H_v(x) = 2 * 1[clip(x + v, 0, 1) >= 0.5] - 1`` (eq. 7-8).

    Computed as ``sign(x + (v - 0.5))`` with ``sign(0) = +1``: exactly what the exported graph
    ``Add(v - 0.5) -> BipolarQuant(scale=1)`` computes. (The paper writes ``> 0.5``; the two differ only
    where ``x + v`` is exactly 0.5.)

    Gradient (STE, eq. 9): ``dH/dx = dH/dv = 1[0 <= x + v <= 1]``.

    Args:
        x: input tensor.
        shift: the shift ``v``, a tensor broadcastable to ``x`` (trainable or not).

    Returns:
        A tensor of the shape of ``x`` with values in {-1, +1}.

    >>> shifted_binary_act_ste(torch.tensor([0.0, 0.4, 0.5, 0.9]), torch.tensor(0.0))
    tensor([-1., -1.,  1.,  1.])
    """
    return _ShiftedBinaryActSTE.apply(x, shift)
