"""Find ABC branch sums in a FINN-ONNX graph and split their coefficients into integers times a scale.

An exported ABC layer is ``sum_k c_k * MatMul(H_k, B_k)`` (one term per weight base m and activation
base n, ``c_k = alpha_m * beta_n`` per output channel, ``B_k`` a BIPOLAR weight), summed by a tree of
``Add`` nodes. After ``step_qonnx_to_finn`` each term is ``MatMul``/``Conv`` (BIPOLAR initializer) ->
``Mul`` (constant) and the tree root feeds BatchNorm, a bias ``Add`` or the graph output.

If, for every output channel c, all ``c_k[c]`` are integer multiples of one scale ``s[c]``
(``c_k[c] = q_k[c] * s[c]``, q integer), the sum is ``s * sum_k q_k * MatMul(H_k, B_k)``: integer
arithmetic followed by one per-channel scale that streamlining absorbs into the next thresholds
(DESIGN.md 1.3). Free float alphas/betas do not have this form; brevitas_abc's hardware-aware
training option ``ABCConfig(coefficient_bits=2|3|4)`` gives it: ``alpha_m[c] = s_a[c] j_m[c]``,
``beta_n = s_b k_n`` with small integers and power-of-two scales, so ``c_k[c] = (j_m[c] k_n) s_a[c] s_b``
exactly in float32 and the integer form computes exactly what the trained model computes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

_LINEAR = ("MatMul", "Conv")


@dataclass
class BranchTerm:
    mul: object  # the Mul node (constant c_k)
    linear: object  # the MatMul/Conv node with a BIPOLAR weight
    coefficient: np.ndarray  # c_k, broadcast to [C]


@dataclass
class BranchSum:
    root: object  # the Add node whose output is the layer's sum
    adds: list  # every Add node of the tree
    terms: list  # BranchTerm, one per leaf
    const_shape: tuple  # shape of the Mul constants ([1, C] or [1, C, 1, 1])


def _single_consumer(model: ModelWrapper, tensor: str) -> bool:
    return len(model.find_consumers(tensor)) == 1


def _is_dynamic_add(model: ModelWrapper, node) -> bool:
    return node is not None and node.op_type == "Add" and all(
        model.get_initializer(i) is None for i in node.input)


def _term(model: ModelWrapper, mul, channels: int) -> BranchTerm | None:
    if mul is None or mul.op_type != "Mul":
        return None
    const = [model.get_initializer(i) for i in mul.input]
    if const[1] is None or const[0] is not None:
        return None
    linear = model.find_producer(mul.input[0])
    if linear is None or linear.op_type not in _LINEAR or not _single_consumer(model, linear.output[0]):
        return None
    weight = linear.input[1]
    if model.get_initializer(weight) is None or model.get_tensor_datatype(weight) != DataType["BIPOLAR"]:
        return None
    c = np.asarray(const[1], dtype=np.float64)
    if c.size not in (1, channels):
        return None
    return BranchTerm(mul, linear, np.broadcast_to(c.reshape(-1), (channels,)).copy())


def _channels(model: ModelWrapper, tensor: str) -> int | None:
    shape = model.get_tensor_shape(tensor)
    return None if shape is None or len(shape) < 2 else int(shape[1])


def find_branch_sums(model: ModelWrapper) -> list[BranchSum]:
    """Every maximal Add tree whose leaves are all ``Mul(const) <- MatMul/Conv(BIPOLAR weight)``."""
    found = []
    for node in model.graph.node:
        if not _is_dynamic_add(model, node):
            continue
        consumers = model.find_consumers(node.output[0])
        if len(consumers) == 1 and _is_dynamic_add(model, consumers[0]):
            continue  # not a root
        channels = _channels(model, node.output[0])
        if channels is None:
            continue
        adds, terms, stack, ok = [], [], [node], True
        while stack and ok:
            add = stack.pop()
            adds.append(add)
            for inp in add.input:
                producer = model.find_producer(inp)
                if not _single_consumer(model, inp):
                    ok = False
                elif _is_dynamic_add(model, producer):
                    stack.append(producer)
                else:
                    term = _term(model, producer, channels)
                    ok = term is not None
                    if ok:
                        terms.append(term)
        if ok and len(terms) >= 2:
            shape = tuple(model.get_initializer(terms[0].mul.input[1]).shape)
            found.append(BranchSum(node, adds, terms, shape))
    return found


def integer_decomposition(coefficients: np.ndarray, max_int: int = 127, max_denominator: int = 64,
                          rtol: float = 1e-4):
    """Split ``coefficients [K, C]`` into integers ``q [K, C]`` and a scale ``s [C]``: ``c = q * s``.

    For each channel the scale is ``min|c| / j`` for the smallest ``j`` in ``1..max_denominator`` that
    makes every ``c / s`` an integer (within ``rtol``) of magnitude at most ``max_int``.

    Returns:
        ``(q, s)``, or ``(None, c)`` with the first channel ``c`` that has no such decomposition.
    """
    k, channels = coefficients.shape
    q = np.zeros((k, channels))
    s = np.ones(channels)
    for c in range(channels):
        v = coefficients[:, c]
        nonzero = np.abs(v[v != 0])
        if nonzero.size == 0:
            continue
        for j in range(1, max_denominator + 1):
            scale = nonzero.min() / j
            ratio = v / scale
            if np.all(np.abs(ratio - np.round(ratio)) <= rtol * np.maximum(1.0, np.abs(ratio))) and \
                    np.abs(np.round(ratio)).max() <= max_int:
                q[:, c], s[c] = np.round(ratio), scale
                break
        else:
            return None, c
    return q, s


def integer_datatype(values: np.ndarray) -> DataType:
    """Smallest signed FINN INT type holding ``values`` (BIPOLAR if they are all +-1)."""
    if np.all(np.abs(values) == 1):
        return DataType["BIPOLAR"]
    bound = int(np.max(np.abs(values)))
    bits = max(2, int(np.ceil(np.log2(bound + 1))) + 1)
    return DataType[f"INT{bits}"]


def reads_bipolar_activation(model: ModelWrapper, tensor: str) -> bool:
    """``tensor`` is a bipolar ``MultiThreshold``'s output, possibly through a ``Pad``: the input of an xnor branch.
    A weights-only ABC layer (``N = None``, e.g. behind an 8-bit input quantiser) reads integers instead."""
    from qonnx.custom_op.registry import getCustomOp

    producer = model.find_producer(tensor)
    if producer is not None and producer.op_type == "Pad":
        producer = model.find_producer(producer.input[0])
    if producer is None or producer.op_type != "MultiThreshold":
        return False
    return getCustomOp(producer).get_nodeattr("out_dtype") == "BIPOLAR"
