"""Sparse ternary anchor filters of a Local Binary Convolution (Juefei-Xu et al., CVPR 2017).

Each of the ``m`` anchor filters has ``fan_in = p*h*w`` entries; exactly ``k = max(1, round(density * fan_in))``
of them are non-zero, at positions drawn WITHOUT replacement (``torch.randperm``), each non-zero entry +1 or -1
with probability 1/2. Everything comes from a ``torch.Generator`` seeded with ``seed``, so the same
``(shape, density, seed, mirror)`` gives bit-identical anchors in every process. Public ports sample the
positions with replacement (the real density falls below the requested one) or ignore the seed; this
module does neither (DESIGN 2).

With ``mirror=True`` the second half of the filters is the negation of the first: ``B = [B'; -B']``. Then
``V relu(B x) = V' (relu(B'x) - relu(-B'x)) = V' B' x`` for ``V = [V', -V']``, so an LBC layer can reproduce
any linear map in the row space of ``B'`` exactly (used by ``LBConv2d.from_float``).
"""
import torch
from torch import Tensor


def check_density(density) -> float:
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0.0 < float(density) <= 1.0:
        raise ValueError(f"density={density!r} is not allowed: expected a float in (0, 1] "
                         "(the fraction of non-zero anchor entries)")
    return float(density)


def check_num_anchors(num_anchors, mirror: bool = False) -> int:
    if isinstance(num_anchors, bool) or not isinstance(num_anchors, int) or num_anchors < 1:
        raise ValueError(f"num_anchors={num_anchors!r} is not allowed: expected an int >= 1 (m, the number of "
                         "anchor filters)")
    if mirror and num_anchors % 2:
        raise ValueError(f"num_anchors={num_anchors!r} is not allowed with mirror_anchors=True: expected an even "
                         "int >= 2 (half the filters are the negation of the other half)")
    return num_anchors


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed: expected an int >= 0")
    return seed


def nonzeros_per_filter(fan_in: int, density: float) -> int:
    """``k = max(1, round(density * fan_in))``: the exact number of non-zero entries of every anchor filter."""
    return max(1, min(fan_in, int(round(density * fan_in))))


def sample_anchors(num_anchors: int, in_channels: int, kernel_size: tuple[int, int], density: float, seed: int,
                   mirror: bool = False) -> Tensor:
    """Anchor filters ``[m, p, h, w]`` with values in {-1, 0, +1}; see the module docstring.

    >>> a = sample_anchors(4, 2, (3, 3), density=0.5, seed=7)
    >>> a.shape, sorted(a.unique().tolist()), (a != 0).flatten(1).sum(1).tolist()
    (torch.Size([4, 2, 3, 3]), [-1.0, 0.0, 1.0], [9, 9, 9, 9])
    >>> bool((a == sample_anchors(4, 2, (3, 3), density=0.5, seed=7)).all())
    True
    """
    check_num_anchors(num_anchors, mirror)
    density, seed = check_density(density), check_seed(seed)
    fan_in = in_channels * kernel_size[0] * kernel_size[1]
    k = nonzeros_per_filter(fan_in, density)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    drawn = num_anchors // 2 if mirror else num_anchors
    filters = torch.zeros(drawn, fan_in)
    for i in range(drawn):
        positions = torch.randperm(fan_in, generator=generator)[:k]
        signs = torch.randint(0, 2, (k,), generator=generator).float() * 2 - 1
        filters[i, positions] = signs
    if mirror:
        filters = torch.cat([filters, -filters])
    return filters.view(num_anchors, in_channels, *kernel_size)
