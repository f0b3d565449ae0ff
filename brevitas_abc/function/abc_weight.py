"""ABC-Net weight approximation math (Lin, Zhao, Pan 2017, section 3.1).

A real weight ``W`` is approximated by ``M`` binary bases and coefficients,
``W ~ sum_m alpha_m B_m`` with ``B_m = sign(W - mean(W) + u_m std(W))`` (eq. 2-3), and ``alpha`` the
least-squares solution of ``min_alpha ||vec(W) - B alpha||^2`` (eq. 1, 3). Statistics and alpha are
computed per *group*: one group for the whole layer ("as a whole") or one per output channel
("channel-wise"). Tensors here are flattened to ``[G, K]``: G groups of K elements.
"""
import torch
from torch import Tensor

from brevitas_abc.function.ste import sign_ste


def group_mean_std(w_groups: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (population) standard deviation of each row of ``w_groups`` ``[G, K]``, as ``[G, 1]``.

    Population std (``correction=0``) keeps a one-element group finite. Both are detached: the paper's
    straight-through estimator passes gradients through ``sign`` only (eq. 4).
    """
    w = w_groups.detach()
    return w.mean(dim=1, keepdim=True), w.std(dim=1, keepdim=True, correction=0)


def abc_weight_bases(w_groups: Tensor, shifts: Tensor) -> Tensor:
    """Binary bases ``B_m = sign(W - mean(W) + u_m std(W))`` (eq. 3) with straight-through gradients.

    Args:
        w_groups: real weights ``[G, K]``.
        shifts: the shifts ``u_m``, shape ``[M]`` (may require grad: ``dB_m/du_m = std``).

    Returns:
        ``[M, G, K]`` tensor of exact +-1 values; ``dB_m/dW = 1`` (STE).

    >>> b = abc_weight_bases(torch.tensor([[0.1, -0.3, 0.5, 0.9]]), torch.tensor([-1.0, 0.0, 1.0]))
    >>> b.shape, bool(((b == 1) | (b == -1)).all())
    (torch.Size([3, 1, 4]), True)
    """
    mean, std = group_mean_std(w_groups)
    centred = w_groups - mean
    return sign_ste(centred.unsqueeze(0) + shifts.view(-1, 1, 1) * std.unsqueeze(0))


def ridge_least_squares_alpha(w_groups: Tensor, bases: Tensor, ridge: float) -> Tensor:
    """Coefficients ``alpha`` minimising ``||w - B alpha||^2 + ridge * K * ||alpha||^2`` per group.

    Solves the normal equations ``(B^T B + ridge K I) alpha = B^T w`` (eq. 1 with a ridge term: for large M
    the bases are nearly collinear and ``B^T B`` singular). ``ridge`` is relative to ``K``, the diagonal of
    ``B^T B``. With ``ridge == 0`` the minimum-norm least-squares solution (pseudo-inverse) is returned.

    Args:
        w_groups: ``[G, K]`` real weights.
        bases: ``[M, G, K]`` binary bases.
        ridge: non-negative regularisation strength.

    Returns:
        ``[G, M]`` coefficients. Differentiable w.r.t. ``w_groups`` (through ``B^T w``).
    """
    b = bases.detach().permute(1, 2, 0)  # [G, K, M]
    k = b.shape[1]
    bt_b = b.transpose(1, 2) @ b  # [G, M, M]
    bt_w = b.transpose(1, 2) @ w_groups.unsqueeze(-1)  # [G, M, 1]
    if ridge > 0:
        eye = torch.eye(bt_b.shape[-1], dtype=b.dtype, device=b.device)
        alpha = torch.linalg.solve(bt_b + ridge * k * eye, bt_w)
    else:
        alpha = torch.linalg.pinv(bt_b) @ bt_w
    return alpha.squeeze(-1)
