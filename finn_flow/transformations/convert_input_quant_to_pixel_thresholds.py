"""Quantise the raw pixels exactly: the input normalisation and the first integer ``Quant`` become one
``MultiThreshold`` on the pixels whose thresholds lie midway between consecutive pixel values.

A network trained on normalised images with an 8-bit input quantiser in front (Brevitas
``QuantIdentity(Int8ActPerTensorFloat)``, as the BNN-PYNQ CNVs) computes, for a raw pixel ``p`` of channel c,

    q(p) = clip(round(((p * a[c] + b[c]) / s) + z), q_min, q_max)          (float32 ops, round half to even)

(``a``, ``b`` the normalisation, :mod:`finn_flow.preprocessing`; ``s``, ``z``, ``q_min``, ``q_max`` the quantiser's
scale, zero point and integer range), and the exported graph ``Mul(a) -> Add(b) -> Quant`` computes the same
float32 operations. FINN turns the ``Quant`` into thresholds ``(k + 0.5) s`` on ``x`` and streamlining absorbs
``b`` and ``a`` into them: ``t_k = ((k + 0.5) s - b) / a``, each operation rounded to float32. That threshold is
within a few float32 ulps of where ``q`` really steps, but a pixel value that lands between the two is quantised
differently (measured: 2 of 300 random scales for CIFAR-10's mean/std leave one pixel value of one channel on the
wrong side; a trained CNV built that way disagreed with PyTorch on 2 of 10 test images).

The pixels are integers, so exactness is constructed instead: this transformation evaluates the chain for every
value ``p`` of the input datatype (``UINT8``: 0..255) with the graph's own float32 operations (``numpy``, the same
IEEE operations as PyTorch and ONNX Runtime; the quantiser as qonnx's ``Quant`` executes it), and, with ``q``
non-decreasing in ``p``, sets threshold ``k`` (output level ``q_min + k``, k = 1..q_max - q_min) to

    T[c, k] = min{p : q_c(p) >= q_min + k} - 0.5        (p_max + 0.5 when no pixel reaches that level)

so ``q_min + #{k : p >= T[c, k]} = q_c(p)`` for every pixel value: ``MultiThreshold(p, T)`` with
``out_bias = q_min`` then ``Add(-z)`` (when ``z != 0``) and ``Mul(s)`` give the ``Quant``'s output bit for bit.
The thresholds are half-integers, exact in float32, and FINN's later rounding of thresholds on integer inputs
(``RoundAndClipThresholds``: ``ceil``) keeps them exact.

Matched: the graph input has an integer FINN datatype with at most 2^16 values; a chain (possibly empty) of
``Mul``/``Add``/``Sub``/``Div`` nodes, each with one constant operand that is per tensor or per channel (axis 1)
and the chain value as the first operand (``Sub``/``Div``) and a single consumer; then a ``Quant`` whose scale,
zero point and bit width are constants (per tensor or per channel) and whose rounding mode qonnx knows. Left
unchanged (listed in :attr:`skipped` with the reason): a chain whose ``q`` is not monotone in the pixel value.
"""
from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.intquant import max_int, min_int, resolve_rounding_mode
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

CHAIN_OPS = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}
MAX_PIXEL_VALUES = 2 ** 16


def _per_channel(value: np.ndarray, rank: int) -> np.ndarray | None:
    """``value`` broadcast-shaped ``[1, C or 1, 1, ...]`` (rank ``rank``), or None if it varies along another axis."""
    value = np.asarray(value, dtype=np.float32)
    if value.ndim > rank:
        return None
    shaped = value.reshape((1,) * (rank - value.ndim) + value.shape)
    if any(dim != 1 for axis, dim in enumerate(shaped.shape) if axis != 1):
        return None
    return shaped


def pixel_levels(pixels: np.ndarray, chain: list[tuple[str, np.ndarray]], scale, zeropt, bitwidth, signed: bool,
                 narrow: bool, rounding_mode: str) -> np.ndarray:
    """The ``Quant``'s integer output for ``pixels`` (``[V, C, 1, ...]`` float32) after ``chain``.

    Each chain step is ``(op_type, constant)`` applied as ``x = op(x, constant)`` in float32; then
    ``round(x / scale + zeropt)`` clipped to the integer range, as qonnx's ``Quant`` (and Brevitas's ``IntQuant``)
    compute it.
    """
    x = pixels.astype(np.float32)
    for op_type, constant in chain:
        x = CHAIN_OPS[op_type](x, constant).astype(np.float32)
    y = (x / scale).astype(np.float32)
    y = (y + zeropt).astype(np.float32)
    low, high = min_int(signed, narrow, bitwidth), max_int(signed, narrow, bitwidth)
    return np.clip(resolve_rounding_mode(rounding_mode)(y), low, high).astype(np.int64)


def pixel_thresholds(levels: np.ndarray, values: np.ndarray, low: int, high: int) -> np.ndarray:
    """Thresholds ``[C, high - low]`` on the pixel values: ``T[c, k-1] = min{p : levels[p, c] >= low + k} - 0.5``
    (``values[-1] + 0.5`` when none), so ``low + #{k : p >= T[c, k]} = levels[p, c]`` for every p in ``values``
    (sorted, consecutive integers; ``levels`` non-decreasing along axis 0)."""
    ks = np.arange(low + 1, high + 1)
    channels = levels.shape[1]
    thresholds = np.empty((channels, len(ks)), dtype=np.float32)
    for c in range(channels):
        first = np.searchsorted(levels[:, c], ks, side="left")  # first pixel index with level >= k
        thresholds[c] = np.where(first < len(values), values[np.minimum(first, len(values) - 1)] - 0.5,
                                 values[-1] + 0.5)
    return thresholds


class ConvertInputQuantToPixelThresholds(Transformation):
    """Replace ``input -> [Mul/Add/Sub/Div]* -> Quant`` by ``MultiThreshold`` on the integer pixels (exact; see the
    module docstring), followed by the quantiser's ``Add(-zero point)`` (if non-zero) and ``Mul(scale)``.

    Attributes (after ``apply``):
        converted: ``{"quant": name, "pixel_values": V, "channels": C}`` per converted quantiser.
        skipped: ``{"quant": name, "reason": ...}`` for a matched chain left unchanged.
    """

    def __init__(self):
        super().__init__()
        self.converted: list[dict] = []
        self.skipped: list[dict] = []

    def _chain(self, model: ModelWrapper, start: str):
        """``(nodes, [(op_type, constant)], quant_node)`` from the tensor ``start`` to the first ``Quant``, or None."""
        rank = len(model.get_tensor_shape(start))
        nodes, steps, tensor = [], [], start
        while True:
            consumers = model.find_consumers(tensor)
            if len(consumers) != 1:
                return None
            node = consumers[0]
            if node.op_type == "Quant":
                return (nodes, steps, node) if node.input[0] == tensor else None
            if node.op_type not in CHAIN_OPS or len(node.input) != 2:
                return None
            first, second = node.input
            if first == tensor and model.get_initializer(second) is not None:
                constant = model.get_initializer(second)
            elif second == tensor and node.op_type in ("Mul", "Add") and model.get_initializer(first) is not None:
                constant = model.get_initializer(first)
            else:
                return None
            constant = _per_channel(constant, rank)
            if constant is None:
                return None
            nodes.append(node)
            steps.append((node.op_type, constant))
            tensor = node.output[0]

    def apply(self, model: ModelWrapper):
        dynamic = [i.name for i in model.graph.input if model.get_initializer(i.name) is None]
        if len(dynamic) != 1:
            return model, False
        inp = dynamic[0]
        dtype = model.get_tensor_datatype(inp)
        shape = model.get_tensor_shape(inp)
        if not dtype.is_integer() or dtype.get_num_possible_values() > MAX_PIXEL_VALUES or len(shape) < 2:
            return model, False
        found = self._chain(model, inp)
        if found is None:
            return model, False
        nodes, steps, quant = found
        scale, zeropt, bitwidth = (model.get_initializer(name) for name in quant.input[1:4])
        if scale is None or zeropt is None or bitwidth is None:
            return model, False
        rank = len(shape)
        scale, zeropt = _per_channel(scale, rank), _per_channel(zeropt, rank)
        if scale is None or zeropt is None:
            return model, False
        inst = getCustomOp(quant)
        signed, narrow = bool(inst.get_nodeattr("signed")), bool(inst.get_nodeattr("narrow"))
        rounding_mode = inst.get_nodeattr("rounding_mode")
        bitwidth = int(np.asarray(bitwidth).item())
        if bitwidth < 2:  # qonnx executes a 1-bit signed Quant as a bipolar sign, FINN converts it separately
            return model, False
        channels = max(shape[1], *(c.shape[1] for _, c in steps), scale.shape[1], zeropt.shape[1])
        values = np.arange(dtype.min(), dtype.max() + 1, dtype=np.int64)
        pixels = np.broadcast_to(values.astype(np.float32).reshape((-1,) + (1,) * (rank - 1)),
                                 (len(values), channels) + (1,) * (rank - 2))
        levels = pixel_levels(pixels, steps, scale, zeropt, bitwidth, signed, narrow, rounding_mode)
        levels = levels.reshape(len(values), channels)
        if (np.diff(levels, axis=0) < 0).any():
            self.skipped.append({"quant": quant.name, "reason": "the quantised value is not non-decreasing in the "
                                 "pixel value (a negative scale in the chain): no thresholds on the pixels"})
            return model, False
        low, high = min_int(signed, narrow, bitwidth), max_int(signed, narrow, bitwidth)
        thresholds = pixel_thresholds(levels, values, low, high)
        out_type = DataType[f"INT{bitwidth}" if signed else f"UINT{bitwidth}"]

        levels_name = model.make_new_valueinfo_name()
        thresholds_name = model.make_new_valueinfo_name()
        model.set_initializer(thresholds_name, thresholds)
        new_nodes = [helper.make_node("MultiThreshold", [inp, thresholds_name], [levels_name],
                                      domain="qonnx.custom_op.general", out_dtype=out_type.name,
                                      out_bias=float(low), data_layout="NCHW" if rank == 4 else "NC",
                                      name=f"{quant.name}_pixel_thresholds")]
        current = levels_name
        if np.any(zeropt != 0):
            shifted, zp_name = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(zp_name, (-zeropt).astype(np.float32))
            new_nodes.append(helper.make_node("Add", [current, zp_name], [shifted], name=f"{quant.name}_zero_point"))
            model.set_tensor_shape(shifted, shape)
            current = shifted
        scale_name = model.make_new_valueinfo_name()
        model.set_initializer(scale_name, scale.astype(np.float32))
        new_nodes.append(helper.make_node("Mul", [current, scale_name], [quant.output[0]], name=f"{quant.name}_scale"))
        model.set_tensor_shape(levels_name, shape)
        model.set_tensor_datatype(levels_name, out_type)

        position = min(list(model.graph.node).index(n) for n in [*nodes, quant])
        for node in [*nodes, quant]:
            model.graph.node.remove(node)
        for offset, node in enumerate(new_nodes):
            model.graph.node.insert(position + offset, node)
        self.converted.append({"quant": quant.name, "pixel_values": int(len(values)), "channels": int(channels)})
        return model, False
