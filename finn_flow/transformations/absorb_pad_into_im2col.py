"""Absorb a zero ``Pad`` of the spatial axes into the ``Im2Col`` of the convolution that follows it.

An explicit padding node (ABC and Group-Net pad binary activations outside the convolution) survives conv
lowering as ``Pad(NCHW) -> Transpose(to NHWC) -> Im2Col(pad_amount 0)``. FINN turns padding into hardware
(``FMPadding`` in front of the ``ConvolutionInputGenerator``) from the ``Im2Col``'s ``pad_amount``, as it does for
a ``Conv`` with ``pads``; a standalone NCHW ``Pad`` has no hardware layer. Zero-padding the NCHW tensor and then
transposing equals transposing and zero-padding H and W in NHWC, so the Pad's H/W amounts move into
``pad_amount`` (``[top, left, bottom, right]``) and the Pad disappears. Exact.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from finn_flow.transformations.pad_border_bias import pad_value

_NCHW_TO_NHWC = [0, 2, 3, 1]


class AbsorbZeroPadIntoIm2Col(Transformation):
    """``Pad(0; H, W only) -> [Transpose NCHW->NHWC] -> Im2Col(no padding)`` becomes ``[Transpose] -> Im2Col``."""

    def apply(self, model: ModelWrapper):
        for pad in model.get_nodes_by_op_type("Pad"):
            pads = model.get_initializer(pad.input[1]) if len(pad.input) > 1 else None
            shape = model.get_tensor_shape(pad.input[0])
            if pad_value(model, pad) != 0.0 or pads is None or shape is None or len(shape) != 4 \
                    or (len(pad.input) > 3 and pad.input[3]):
                continue
            begin, end = [int(v) for v in pads[:4]], [int(v) for v in pads[4:]]
            consumers = model.find_consumers(pad.output[0])
            if len(consumers) != 1:
                continue
            transpose = consumers[0] if consumers[0].op_type == "Transpose" else None
            if transpose is not None:
                if list(transpose.attribute[0].ints) != _NCHW_TO_NHWC:
                    continue
                consumers = model.find_consumers(transpose.output[0])
                if len(consumers) != 1:
                    continue
                h, w = 2, 3  # NCHW axes of the Pad
            else:
                h, w = 1, 2  # the Pad is already on an NHWC tensor
            im2col = consumers[0]
            if im2col.op_type != "Im2Col":
                continue
            inst = getCustomOp(im2col)
            others = [a for a in range(4) if a not in (h, w)]
            if any(inst.get_nodeattr("pad_amount")) or any(begin[a] or end[a] for a in others):
                continue
            inst.set_nodeattr("pad_amount", [begin[h], begin[w], end[h], end[w]])
            inst.set_nodeattr("pad_value", 0)
            unpadded = list(shape)
            if transpose is not None:
                unpadded = [shape[i] for i in _NCHW_TO_NHWC]
                transpose.input[0] = pad.input[0]
                model.set_tensor_shape(transpose.output[0], unpadded)
            else:
                im2col.input[0] = pad.input[0]
            inst.set_nodeattr("input_shape", "(" + ",".join(str(int(d)) for d in unpadded) + ")")
            model.graph.node.remove(pad)
            return model, True
        return model, False
