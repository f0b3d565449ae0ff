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


def _multi_binary_forward(x: Tensor, offsets: Tensor, betas: Tensor) -> Tensor:
    out = torch.where(x + offsets[0] >= 0, betas[0], -betas[0])
    for n in range(1, offsets.shape[0]):
        out = out + torch.where(x + offsets[n] >= 0, betas[n], -betas[n])
    return out


def _multi_binary_backward(x: Tensor, grad: Tensor, offsets: Tensor, betas: Tensor):
    grad_x = torch.zeros_like(x)
    grad_shifts, grad_betas = [], []
    for n in range(offsets.shape[0]):
        shifted = x + offsets[n]
        masked = torch.where(shifted.abs() <= 0.5, grad, 0.0)  # 1[0 <= x + v <= 1]
        grad_x = grad_x + betas[n] * masked
        grad_shifts.append(betas[n] * masked.sum())
        grad_betas.append(torch.where(shifted >= 0, grad, -grad).sum())  # sum(grad * H_v(x))
    return grad_x, torch.stack(grad_shifts), torch.stack(grad_betas)


_KERNELS = {"forward": _multi_binary_forward, "backward": _multi_binary_backward}
_EAGER = {"forward": _multi_binary_forward, "backward": _multi_binary_backward}
COMPILED_KERNELS_ENV = "BREVITAS_ABC_COMPILED_KERNELS"


def _with_eager_fallback(compiled, name: str):
    """``compiled``, or the eager kernel once ``torch.compile`` has failed (no C compiler, an unsupported
    platform, ...): one warning, then every later call of the process runs eagerly (same values)."""

    def run(*args):
        if _KERNELS[name] is not run:  # an earlier failure switched the process to eager
            return _KERNELS[name](*args)
        try:
            return compiled(*args)
        except Exception as error:  # noqa: BLE001 - any compile/runtime failure of inductor
            import warnings

            warnings.warn(f"torch.compile of the ABC multi-binary activation failed ({type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}); ABC layers fall back to the eager "
                          "kernels for the rest of this process (same values, 2-4x slower training)", stacklevel=2)
            _KERNELS.update(_EAGER)
            return _EAGER[name](*args)

    return run


def use_compiled_kernels(enabled: bool = True) -> None:
    """Fuse the multi-binary activation's N thresholds into one pass with ``torch.compile`` (process-wide).

    Eager PyTorch runs 3-4 memory passes per base and direction, which on a CPU costs as much as the
    convolution itself; the compiled kernels make one. Values are identical (same float32 ``x + (v - 0.5)``
    comparisons); the first call of each input rank compiles (20-100 s with gcc on 2 cores; inductor caches
    the result on disk for later processes). If compiling fails, one warning and the eager kernels.
    """
    if enabled:
        if "compiled_forward" not in _KERNELS:  # compile wrappers once: re-wrapping piles up recompilations
            _KERNELS["compiled_forward"] = _with_eager_fallback(
                torch.compile(_multi_binary_forward, dynamic=True), "forward")
            _KERNELS["compiled_backward"] = _with_eager_fallback(
                torch.compile(_multi_binary_backward, dynamic=True), "backward")
        _KERNELS.update(forward=_KERNELS["compiled_forward"], backward=_KERNELS["compiled_backward"])
    else:
        _KERNELS.update(_EAGER)


def compiled_kernels_enabled() -> bool:
    """Whether ABC layers currently run the ``torch.compile`` kernels."""
    return _KERNELS["forward"] is not _EAGER["forward"]


def use_default_kernels() -> bool:
    """The training default of ``build_model``, ``abc-train`` and the benchmarks: compiled kernels, unless the
    environment variable ``BREVITAS_ABC_COMPILED_KERNELS`` is ``0`` (the test suite sets it: compiling costs
    20-100 s per process). Returns whether the compiled kernels are on."""
    import os

    value = os.environ.get(COMPILED_KERNELS_ENV, "1").strip()
    if value not in ("0", "1"):
        raise ValueError(f"{COMPILED_KERNELS_ENV}={value!r} is not allowed: expected 0 or 1")
    use_compiled_kernels(value == "1")
    return value == "1"


class _MultiBinaryActSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, shifts: Tensor, betas: Tensor) -> Tensor:
        offsets = shifts.detach() - 0.5  # the float32 constants the exported Add nodes hold
        ctx.save_for_backward(x, offsets, betas)
        return _KERNELS["forward"](x, offsets, betas.detach())

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, offsets, betas = ctx.saved_tensors
        grad_x, grad_shifts, grad_betas = _KERNELS["backward"](x, grad.contiguous(), offsets, betas.detach())
        return grad_x if ctx.needs_input_grad[0] else None, grad_shifts, grad_betas


def multi_binary_act_ste(x: Tensor, shifts: Tensor, betas: Tensor) -> Tensor:
    """``A = sum_n beta_n H_{v_n}(x)`` (ABC-Net eq. 9) in one pass, without stacking the N binary maps.

    Same values and gradients as summing ``betas[n] * shifted_binary_act_ste(x, shifts[n])``:
    ``dA/dx = sum_n beta_n 1[0 <= x + v_n <= 1]``, ``dA/dv_n = beta_n 1[0 <= x + v_n <= 1]``,
    ``dA/dbeta_n = H_{v_n}(x)``. Saves only ``x`` for backward (memory of one activation, not N).

    >>> multi_binary_act_ste(torch.tensor([-3.0, 0.0, 3.0]), torch.tensor([-1.5, 0.0, 1.5]), torch.ones(3))
    tensor([-3., -1.,  3.])
    """
    return _MultiBinaryActSTE.apply(x, shifts, betas)
