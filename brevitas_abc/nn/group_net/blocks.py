"""Group-Net group-wise binary decomposition (Zhuang et al., CVPR 2019, sec. 2.2.2-2.2.3).

Block-wise (paper eq. 5): a float residual block F is approximated by K homogeneous binary copies G_k with
learned scales,   ``F(x) ~ sum_k lambda_k G_k(x)``.

Group-wise (paper eq. 6): a group of consecutive blocks F_n o ... o F_1 is approximated by K binary branches,
each a chain of binary copies,   ``H_k = G_{n,k} o ... o G_{1,k}``,   ``y = sum_k lambda_k H_k(x)``.

Dynamic decomposition (sec. 2.2.3, the official code's soft gate): between consecutive blocks i and i+1 of
a group, branch k's input is mixed with the mean of all branches by ONE learned sigmoid gate per block,

    h'_{i,k} = g_i h_{i,k} + (1 - g_i) * (1/K) sum_j h_{i,j},      g_i = sigmoid(theta_i).

``g_i = 1`` gives independent branches (eq. 6); ``g_i = 0`` makes every branch see the same input, i.e.
per-block decomposition (eq. 5) with averaged outputs.

A binary copy is the float block with every ``nn.Conv2d`` replaced by a ``BinaryConv2d`` and every
``nn.ReLU`` by ``nn.Identity``: a sign after a ReLU would always read +1 (the official code binarises
pre-activation values). Its BatchNorms become ``ExactBatchNorm2d`` (bit-exact export before a sign).
Identical copies would receive identical gradients and never diverge, so copy k
starts from the k-th greedy residual of each float weight (``residual_binary_weights``); lambda_k = 1/K.

Integer residual streams (``residual_bits = b``, ``brevitas_abc.nn.group_net.residual``): every residual sum,
branch output and gate mix is put on one signed b-bit grid per block/group, so the whole decomposition is integer
arithmetic plus thresholds (what ``finn_flow`` builds with AddStreams and DuplicateStreams).

Which blocks can be decomposed: the residual block types registered with ``register_group_block``
(the zoo registers its ResNet ``BasicBlock`` and ``Bottleneck``); anything else is an error listing them.
"""
import copy

import torch
from torch import Tensor, nn

from brevitas_abc.nn.constant_ops import MulConstant
from brevitas_abc.nn.exact_batchnorm import ExactBatchNorm2d
from brevitas_abc.nn.group_net.binary import BinaryConv2d, check_num_bases, residual_binary_weights
from brevitas_abc.nn.layer_counts import LayerCounts
from brevitas_abc.nn.group_net.residual import check_residual_bits, quantise_block_outputs, residual_quant

_GROUP_BLOCKS: list[type] = []


def register_group_block(block_type: type) -> type:
    """Declare a residual block type that group-wise decomposition may copy (usable as a decorator)."""
    if block_type not in _GROUP_BLOCKS:
        _GROUP_BLOCKS.append(block_type)
    return block_type


def allowed_group_blocks() -> list[str]:
    return [t.__name__ for t in _GROUP_BLOCKS]


def check_group_block(block: nn.Module, name: str = "block") -> None:
    if type(block) not in _GROUP_BLOCKS:
        raise ValueError(f"{name} of type {type(block).__name__} is not allowed: group-wise decomposition handles "
                         f"the residual block types {allowed_group_blocks()} (register others with "
                         "register_group_block)")
    for conv_name, m in block.named_modules():
        if isinstance(m, nn.Conv2d) and (type(m) is not nn.Conv2d or m.groups != 1 or isinstance(m.padding, str)):
            raise ValueError(f"{name} ({type(block).__name__}) contains {conv_name!r} ({type(m).__name__}, "
                             f"groups={m.groups}, padding={m.padding!r}), which is not allowed: expected float "
                             "nn.Conv2d with groups=1 and int padding")


def binary_copy(block: nn.Module, index: int, num_bases: int) -> nn.Module:
    """The ``index``-th binary copy of ``block`` (see the module docstring)."""
    clone = copy.deepcopy(block)
    for name, module in list(clone.named_modules()):
        if type(module) is nn.Conv2d:
            weight = residual_binary_weights(module.weight, num_bases)[index]
            clone.set_submodule(name, BinaryConv2d.from_float(module, weight))
        elif isinstance(module, nn.ReLU):
            clone.set_submodule(name, nn.Identity())
        elif type(module) is nn.BatchNorm2d:
            clone.set_submodule(name, ExactBatchNorm2d.from_batchnorm(module))
    return clone


def _export_children(module: nn.Module) -> nn.Module:
    """Replace (in place) every descendant that has ``to_export_form`` by its export form."""
    for name, child in module.named_children():
        if callable(getattr(child, "to_export_form", None)):
            setattr(module, name, child.to_export_form())
        else:
            _export_children(child)
    return module


def _copies_latent_weights(copies) -> list[nn.Parameter]:
    """The latent weights of every ``BinaryConv2d`` in the K binary copies."""
    return [w for copy_ in copies for m in copy_.modules() if isinstance(m, BinaryConv2d) for w in m.latent_weights()]


def _decomposition_counts(module: nn.Module, copies) -> LayerCounts:
    """Summary counts of K binary copies plus the module's own scales/gates; the float-equivalent size is that
    of ONE copy (the float block or group the K copies approximate)."""
    from brevitas_abc.summary import summary  # summary walks models; it imports the layer files

    own = sum(p.numel() for p in module.parameters(recurse=False))
    counts = LayerCounts(learned=own, float_values=own)
    for k, copy_ in enumerate(copies):
        total = summary(copy_).total
        if k:
            total.conv_equivalent = 0
        counts += total
    return counts


class GroupNetBlock(nn.Module):
    """Eq. 5: ``sum_k lambda_k G_k(x)`` over K binary copies of one residual block.

    With ``residual_bits = b``: ``y = sum_k Q(lambda_k G_k(Q(x)))``, every residual sum inside ``G_k`` on Q's grid
    too (``brevitas_abc.nn.group_net.residual``).

    Args:
        block: a float residual block of a registered type.
        num_bases: K >= 1.
        residual_bits: None (float residual streams) or b in 2..8 (signed b-bit integer streams, one learned scale).

    >>> from brevitas_abc.models.resnet import BasicBlock
    >>> GroupNetBlock(BasicBlock(4, 4), num_bases=2, residual_bits=4)(torch.randn(1, 4, 6, 6)).shape
    torch.Size([1, 4, 6, 6])

    Implements ``brevitas_abc.nn.protocol.BinaryLayer`` (family ``"group_net"``, decomposition ``"block"``).
    """

    family = "group_net"
    decomposition = "block"

    def __init__(self, block: nn.Module, num_bases: int = 4, residual_bits: int | None = None):
        super().__init__()
        check_num_bases(num_bases)
        check_group_block(block)
        self.residual_bits = check_residual_bits(residual_bits)
        self.quant = None if residual_bits is None else residual_quant(residual_bits)
        self.copies = nn.ModuleList(binary_copy(block, k, num_bases) for k in range(num_bases))
        if self.quant is not None:
            for copy_ in self.copies:
                quantise_block_outputs(copy_, self.quant)
        self.scales = nn.Parameter(torch.full((num_bases,), 1.0 / num_bases))

    @property
    def num_bases(self) -> int:
        return len(self.copies)

    def forward(self, x: Tensor) -> Tensor:
        if self.quant is None:
            return sum(scale * copy_(x) for scale, copy_ in zip(self.scales, self.copies))
        x = self.quant(x)
        out = None
        for scale, copy_ in zip(self.scales, self.copies):
            term = self.quant(scale * copy_(x))
            out = term if out is None else out + term
        return out

    def summary_counts(self) -> LayerCounts:
        return _decomposition_counts(self, self.copies)

    def latent_weights(self) -> list[nn.Parameter]:
        return _copies_latent_weights(self.copies)

    @torch.no_grad()
    def to_export_form(self) -> "GroupNetBlock":
        """A copy whose binary convolutions are in export form; the scales ``lambda_k`` stay as they are."""
        return _export_children(copy.deepcopy(self))


class GroupNetGroup(nn.Module):
    """Eq. 6 with soft gates: K branches, each a chain of binary copies of ``blocks``.

    Args:
        blocks: consecutive float residual blocks (an ``nn.Sequential`` or a list), all of registered types.
        num_bases: K >= 1.
        gates: learn one sigmoid fusion gate between each pair of consecutive blocks (dynamic
            decomposition); False gives independent branches (plain eq. 6).
        gate_init: initial gate value ``g`` in (0, 1) (``theta = logit(g)``).
        residual_bits: None (float residual streams) or b in 2..8: the input, every residual sum, every gate mix
            ``Q(g h_k) + Q((1 - g)/K sum_j h_j)`` and every scaled branch output ``Q(lambda_k h_k)`` on one signed
            b-bit grid (``brevitas_abc.nn.group_net.residual``).

    >>> from brevitas_abc.models.resnet import BasicBlock
    >>> group = GroupNetGroup([BasicBlock(4, 4), BasicBlock(4, 4)], num_bases=2, residual_bits=4)
    >>> group(torch.randn(1, 4, 6, 6)).shape
    torch.Size([1, 4, 6, 6])

    Implements ``brevitas_abc.nn.protocol.BinaryLayer`` (family ``"group_net"``, decomposition ``"group"``).
    """

    family = "group_net"
    decomposition = "group"

    def __init__(self, blocks, num_bases: int = 4, gates: bool = True, gate_init: float = 0.5,
                 residual_bits: int | None = None):
        super().__init__()
        check_num_bases(num_bases)
        blocks = list(blocks)
        if not blocks:
            raise ValueError("blocks=[] is not allowed: expected at least one residual block")
        for i, block in enumerate(blocks):
            check_group_block(block, f"blocks[{i}]")
        if not isinstance(gate_init, (int, float)) or not 0.0 < gate_init < 1.0:
            raise ValueError(f"gate_init={gate_init!r} is not allowed: expected a float in (0, 1)")
        self.residual_bits = check_residual_bits(residual_bits)
        self.quant = None if residual_bits is None else residual_quant(residual_bits)
        self.branches = nn.ModuleList(
            nn.Sequential(*(binary_copy(block, k, num_bases) for block in blocks)) for k in range(num_bases))
        if self.quant is not None:
            for branch in self.branches:
                for copy_ in branch:
                    quantise_block_outputs(copy_, self.quant)
        self.scales = nn.Parameter(torch.full((num_bases,), 1.0 / num_bases))
        logit = float(torch.logit(torch.tensor(float(gate_init))))
        self.gate_logits = nn.Parameter(torch.full((len(blocks) - 1,), logit)) if gates and len(blocks) > 1 else None

    @property
    def num_bases(self) -> int:
        return len(self.branches)

    @property
    def gates(self) -> Tensor | None:
        """``g_i = sigmoid(theta_i)``, one per pair of consecutive blocks (None without gates)."""
        return None if self.gate_logits is None else torch.sigmoid(self.gate_logits)

    def forward(self, x: Tensor) -> Tensor:
        if self.quant is not None:
            gates = self.gates
            mixes = [] if gates is None else [(g, (1 - g) / self.num_bases) for g in gates]
            return quantised_group_forward(x, self.branches, self.quant, self.scales, mixes)
        hs = [x] * self.num_bases
        gates = self.gates
        num_blocks = len(self.branches[0])
        for i in range(num_blocks):
            hs = [branch[i](h) for branch, h in zip(self.branches, hs)]
            if gates is not None and i < num_blocks - 1:
                mean = sum(hs) / self.num_bases
                hs = [gates[i] * h + (1 - gates[i]) * mean for h in hs]
        return sum(scale * h for scale, h in zip(self.scales, hs))

    def summary_counts(self) -> LayerCounts:
        return _decomposition_counts(self, self.branches)

    def latent_weights(self) -> list[nn.Parameter]:
        return _copies_latent_weights(self.branches)

    @torch.no_grad()
    def to_export_form(self) -> "GroupNetGroupExport":
        """Branches in export form; gates ``g_i`` and ``1 - g_i`` as constants computed here by torch (a
        constant-folded ONNX ``Sigmoid`` may round differently, and a sign follows)."""
        if self.quant is not None:
            # one deepcopy of branches and quantiser together keeps the quantiser shared
            branches, quant = copy.deepcopy((self.branches, self.quant))
            gates = self.gates
            mixes = [] if gates is None else [(MulConstant(g), MulConstant((1 - g) / self.num_bases)) for g in gates]
            return GroupNetGroupExport(_export_children(branches), [MulConstant(s) for s in self.scales], mixes,
                                       quant)
        branches = _export_children(copy.deepcopy(self.branches))
        gates = self.gates
        mixes = [] if gates is None else [(MulConstant(g), MulConstant(1 - g)) for g in gates]
        return GroupNetGroupExport(branches, [MulConstant(s) for s in self.scales], mixes)


def quantised_group_forward(x: Tensor, branches, quant: nn.Module, scales, mixes) -> Tensor:
    """The group-wise forward on integer streams (``brevitas_abc.nn.group_net.residual``), shared by training and export form.

    ``scales[k]`` and ``mixes[i] = (g_i, (1 - g_i)/K)`` are tensors (training) or ``MulConstant`` modules (export);
    both multiply in the same order, so both compute the same floats.
    """
    mul = lambda c, v: c(v) if isinstance(c, nn.Module) else c * v  # noqa: E731
    hs = [quant(x)] * len(branches)
    num_blocks = len(branches[0])
    for i in range(num_blocks):
        hs = [branch[i](h) for branch, h in zip(branches, hs)]
        if i < min(num_blocks - 1, len(mixes)):
            total = hs[0]
            for h in hs[1:]:
                total = total + h
            gate, rest = mixes[i]
            shared = quant(mul(rest, total))
            hs = [quant(mul(gate, h)) + shared for h in hs]
    out = None
    for scale, h in zip(scales, hs):
        term = quant(mul(scale, h))
        out = term if out is None else out + term
    return out


class GroupNetGroupExport(nn.Module):
    """Export form of ``GroupNetGroup``: the same computation with constant scales and gates (and, with integer
    residual streams, the shared stream quantiser ``quant``; then the mixes are ``(g, (1 - g)/K)``)."""

    def __init__(self, branches: nn.ModuleList, scales: list[MulConstant],
                 mixes: list[tuple[MulConstant, MulConstant]], quant: nn.Module | None = None):
        super().__init__()
        self.branches = branches
        self.scales = nn.ModuleList(scales)
        self.gate = nn.ModuleList(m for m, _ in mixes)
        self.one_minus_gate = nn.ModuleList(m for _, m in mixes)
        self.quant = quant

    def forward(self, x: Tensor) -> Tensor:
        if self.quant is not None:
            return quantised_group_forward(x, self.branches, self.quant, list(self.scales),
                                           list(zip(self.gate, self.one_minus_gate)))
        num_bases, hs = len(self.branches), [x] * len(self.branches)
        num_blocks = len(self.branches[0])
        for i in range(num_blocks):
            hs = [branch[i](h) for branch, h in zip(self.branches, hs)]
            if len(self.gate) and i < num_blocks - 1:
                mean = sum(hs) / num_bases
                hs = [self.gate[i](h) + self.one_minus_gate[i](mean) for h in hs]
        return sum(scale(h) for scale, h in zip(self.scales, hs))
