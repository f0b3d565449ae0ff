"""``FoldAveragePoolIntoPointwiseConv``: a 1x1 ``Conv`` followed by a ``k x k`` stride-``k`` ``AveragePool`` becomes
one ``k x k`` stride-``k`` ``Conv`` with the 1x1 weights repeated over the window, then ``Mul(1 / k^2)``.

A DenseNet transition (Huang et al. 2017) is ``BN -> ReLU -> 1x1 conv -> avgpool 2``. With integer weights ``W``
(the 1x1 conv after FINN's weight folding: ``Conv(x, W)`` then the scalar weight/activation scales ``Mul(s)``), for
every output pixel ``p`` and its ``k x k`` input window ``P``:

    avgpool(s * conv1x1(x, W))[p] = (1 / k^2) sum_{q in P} s * sum_i W[o, i] x[i, q]
                                  = (s / k^2) * conv_kxk(x, W repeated over the window, stride k)[p]

The integer sum is exact in any order (integers below 2^24), and for ``k`` a power of two so is ``1 / k^2``; the
float scale is one multiplication in both forms. FINN has no hardware layer for an ``AveragePool`` of an
unquantised tensor (``InferPool`` takes ``MaxPool`` and ``QuantAvgPool2d``); the folded convolution is one MVAU
with the same multiply-accumulate count as the 1x1 conv before the pooling (``k^2`` times the weights, ``k^2``
times fewer output pixels), and the scales ``Mul(1 / k^2)``, ``Mul(s)`` move into the next thresholds.

Matched: ``Conv`` (1x1 kernel, stride 1, no padding, dilation 1, group 1, no bias input, weight initializer, one
consumer) -> any number of scalar-``Mul`` nodes with one consumer each -> ``AveragePool`` (square kernel ``k`` a
power of two, stride ``k``, no padding, ``ceil_mode`` 0, spatial size divisible by ``k``). Anything else is left.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name


def _ints(node, name: str, default: list[int]) -> list[int]:
    attr = get_by_name(node.attribute, name)
    return default if attr is None else list(attr.ints)


def _pool_size(model: ModelWrapper, pool) -> int | None:
    """``k`` of a ``k x k`` stride-``k`` unpadded AveragePool on a 4D map divisible by ``k`` (k a power of two)."""
    kernel = _ints(pool, "kernel_shape", [])
    if len(kernel) != 2 or kernel[0] != kernel[1]:
        return None
    k = kernel[0]
    shape = model.get_tensor_shape(pool.input[0])
    ceil = get_by_name(pool.attribute, "ceil_mode")
    if (k < 2 or k & (k - 1) or _ints(pool, "strides", [1, 1]) != [k, k] or any(_ints(pool, "pads", [0] * 4))
            or (ceil is not None and ceil.i != 0) or shape is None or len(shape) != 4 or shape[2] % k or shape[3] % k):
        return None
    auto_pad = get_by_name(pool.attribute, "auto_pad")
    if auto_pad is not None and auto_pad.s not in (b"", b"NOTSET", b"VALID"):
        return None
    return k


def _is_pointwise_conv(model: ModelWrapper, conv) -> bool:
    if conv is None or conv.op_type != "Conv" or len(conv.input) != 2 or model.is_fork_node(conv):
        return False
    weights = model.get_initializer(conv.input[1])
    group = get_by_name(conv.attribute, "group")
    return (weights is not None and weights.ndim == 4 and weights.shape[2:] == (1, 1)
            and (group is None or group.i == 1) and _ints(conv, "strides", [1, 1]) == [1, 1]
            and not any(_ints(conv, "pads", [0] * 4)) and _ints(conv, "dilations", [1, 1]) == [1, 1])


def _scalar_mul(model: ModelWrapper, node) -> bool:
    if node is None or node.op_type != "Mul" or model.is_fork_node(node):
        return False
    constant = model.get_initializer(node.input[1])
    return constant is not None and constant.size == 1


def _remove_value_info(model: ModelWrapper, names: set[str]) -> None:
    for info in [v for v in model.graph.value_info if v.name in names]:
        model.graph.value_info.remove(info)


class FoldAveragePoolIntoPointwiseConv(Transformation):
    """``Conv 1x1 -> [scalar Mul]* -> AveragePool k/k`` -> ``Conv kxk stride k -> Mul(1/k^2) -> [scalar Mul]*``.

    ``self.folded`` lists the ``(Conv, AveragePool)`` node names rewritten."""

    def __init__(self):
        super().__init__()
        self.folded: list[tuple[str, str]] = []

    def apply(self, model: ModelWrapper):
        for pool in model.get_nodes_by_op_type("AveragePool"):
            k = _pool_size(model, pool)
            if k is None:
                continue
            muls, producer = [], model.find_producer(pool.input[0])
            while _scalar_mul(model, producer):
                muls.insert(0, producer)
                producer = model.find_producer(producer.input[0])
            conv = producer
            if not _is_pointwise_conv(model, conv):
                continue
            weights = model.get_initializer(conv.input[1])
            weight_name = model.make_new_valueinfo_name()
            model.set_initializer(weight_name, np.tile(weights, (1, 1, k, k)).astype(weights.dtype))
            model.set_tensor_datatype(weight_name, model.get_tensor_datatype(conv.input[1]))
            conv.input[1] = weight_name
            for attr in [a for a in conv.attribute if a.name in ("kernel_shape", "strides", "pads")]:
                conv.attribute.remove(attr)
            conv.attribute.extend([helper.make_attribute("kernel_shape", [k, k]),
                                   helper.make_attribute("strides", [k, k]),
                                   helper.make_attribute("pads", [0, 0, 0, 0])])
            stale = {conv.output[0]} | {m.output[0] for m in muls}
            conv.output[0] = model.make_new_valueinfo_name()
            scale_name = model.make_new_valueinfo_name()
            model.set_initializer(scale_name, np.asarray(1.0 / (k * k), dtype=np.float32))
            previous = conv.output[0]
            chain = [helper.make_node("Mul", [previous, scale_name], [""], name=f"{pool.name}_window_scale")] + muls
            for node in chain:
                node.input[0] = previous
                node.output[0] = model.make_new_valueinfo_name()
                previous = node.output[0]
            chain[-1].output[0] = pool.output[0]
            index = list(model.graph.node).index(conv)
            model.graph.node.insert(index + 1, chain[0])
            model.graph.node.remove(pool)
            _remove_value_info(model, stale)
            self.folded.append((conv.name, pool.name))
            return model.transform(InferShapes()), True
        return model, False
