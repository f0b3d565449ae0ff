"""Give every consumer of a bipolar activation its own copy of the thresholding node.

ABC's M weight bases (and Group-Net's branches) all read the same binarised activation. FINN's
``ConvertBipolarMatMulToXnorPopcount`` rewrites a bipolar ``MultiThreshold`` (output ``2*step - 1``
in {-1, +1}) into a binary one (output ``step`` in {0, 1}) for its first xnor consumer; the other
consumers then fail with "Could not find upstream bipolar MultiThreshold" (DESIGN.md 6). A copy per
consumer computes the same function, so every branch sees identical values and the rewrite is exact.

A bipolar activation may reach its consumers through a chain of single-input layout nodes
(``Pad`` with value +1 for ABC's padded convolutions, ``Transpose``, ``Reshape``); the chain is
copied with it.
"""

from __future__ import annotations

import copy

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

# Nodes that may sit between the activation and the fork: one dynamic input, the rest constant.
_PASS_THROUGH = {"Pad", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "MaxPool"}


def _is_bipolar_threshold(node) -> bool:
    return node.op_type == "MultiThreshold" and getCustomOp(node).get_nodeattr("out_dtype") == "BIPOLAR"


def _chain_to_fork(model: ModelWrapper, node):
    """The nodes from ``node`` down to the first tensor with several consumers (or None)."""
    chain = [node]
    while True:
        out = chain[-1].output[0]
        consumers = model.find_consumers(out)
        if len(consumers) > 1:
            return chain, out, consumers
        if len(consumers) != 1:
            return None
        nxt = consumers[0]
        dynamic = [i for i in nxt.input if i and model.get_initializer(i) is None]
        if nxt.op_type not in _PASS_THROUGH or len(dynamic) != 1 or len(nxt.output) != 1:
            return None
        chain.append(nxt)


class DuplicateSharedBipolarThresholds(Transformation):
    """Copy a bipolar ``MultiThreshold`` (and its pass-through chain) once per extra consumer."""

    def apply(self, model: ModelWrapper):
        for node in list(model.graph.node):
            if not _is_bipolar_threshold(node):
                continue
            found = _chain_to_fork(model, node)
            if found is None:
                continue
            chain, fork_tensor, consumers = found
            graph = model.graph
            for k, consumer in enumerate(consumers[1:], start=1):
                prev_out = None
                insert_at = list(graph.node).index(consumer)
                for link in chain:
                    dup = copy.deepcopy(link)
                    dup.name = f"{link.name}_copy{k}"
                    if prev_out is not None:
                        dup.input[0] = prev_out
                    new_out = model.make_new_valueinfo_name()
                    model.set_tensor_shape(new_out, model.get_tensor_shape(link.output[0]))
                    model.set_tensor_datatype(new_out, model.get_tensor_datatype(link.output[0]))
                    dup.output[0] = new_out
                    graph.node.insert(insert_at, dup)
                    insert_at += 1
                    prev_out = new_out
                for i, name in enumerate(consumer.input):
                    if name == fork_tensor:
                        consumer.input[i] = prev_out
            return model, True  # run again: the graph changed under the iteration
        return model, False
