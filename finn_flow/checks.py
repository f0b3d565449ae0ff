"""Checks between build steps: what FINN could not lower, and what is still float.

``check_lowered`` runs after ``step_convert_to_hw``: a node that is not a hardware layer but has
hardware layers both before and after it cannot be placed (FINN would cut the accelerator in two
partitions or fail with a cryptic partitioning error), so we name it. Non-hardware nodes at the start
or end run on the host and are listed. ``float_tensors_in`` lists FLOAT32 tensors of a dataflow
partition (streams and parameters). ``check_torch_model`` refuses, before export, the module kinds the flow
does not lower (Group-Net block/group decompositions with float residual streams, DenseNets with float concatenated
streams), naming each; ``check_bipolar_after_relu`` refuses a
QONNX pattern FINN's converter gets wrong.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper

from finn_flow.errors import UnsupportedOpError
from finn_flow.transformations.revert_float_boundary import is_hw_node


def _reaches_hw(model: ModelWrapper, node, downstream: bool) -> bool:
    seen, stack = set(), [node]
    while stack:
        cur = stack.pop()
        nxt = (
            [c for o in cur.output for c in model.find_consumers(o)]
            if downstream
            else [p for i in cur.input if i and (p := model.find_producer(i)) is not None]
        )
        for n in nxt:
            key = n.name or tuple(n.output)  # protobuf wrappers are re-created: id() is not stable
            if key in seen:
                continue
            seen.add(key)
            if is_hw_node(n) or n.op_type == "StreamingDataflowPartition":
                return True
            stack.append(n)
    return False


def host_nodes(model: ModelWrapper) -> list[dict]:
    """Non-hardware nodes of a graph (excluding partition nodes), with their place and datatypes."""
    out = []
    for node in model.graph.node:
        if is_hw_node(node) or node.op_type == "StreamingDataflowPartition":
            continue
        before = _reaches_hw(model, node, downstream=False)
        out.append({
            "name": node.name,
            "op_type": node.op_type,
            "place": "after accelerator" if before else "before accelerator",
            "output_datatype": model.get_tensor_datatype(node.output[0]).name,
        })
    return out


def _stuck_hint(model: ModelWrapper, node) -> str:
    """What to change for a node left between hardware layers, for the cases we know."""
    weights = [model.get_initializer(i) for i in node.input[1:] if i and model.get_initializer(i) is not None]
    if node.op_type in ("MatMul", "Conv", "Gemm") and weights and not np.array_equal(weights[0], np.round(weights[0])):
        return ("its weights are float: a layer kept float inside the network (ABCConfig keeps the first layer "
                "float by default: set keep_first=False, or quantise it with Brevitas)")
    if node.op_type in ("Relu", "ElementwiseMaximum"):
        return ("a ReLU FINN could not merge into the next thresholds (a ReLU -> BatchNorm with a negative scale, "
                "or a ReLU in front of a float layer): write Conv -> BatchNorm -> ReLU")
    if node.op_type == "Concat":
        return ("a concatenation of streams with different float scales (FINN issue 954) or of float streams: give "
                "every input one integer scale (brevitas_abc.models.densenet_integer does for DenseNets)")
    if node.op_type in ("Mul", "Add", "ElementwiseMul", "ElementwiseAdd"):
        return ("a float scale or bias FINN could not merge into thresholds (a negative scale after a ReLU or a "
                "pooling, a float layer's bias, or free float coefficients)")
    return ""


def check_lowered(model: ModelWrapper) -> list[dict]:
    """Raise for non-hardware nodes between hardware layers; return the host-side nodes.

    Raises:
        UnsupportedOpError: naming each node FINN could not turn into a hardware layer although it
            sits inside the accelerator, with its op type and input datatypes.
    """
    stuck = []
    for node in model.graph.node:
        if is_hw_node(node):
            continue
        if _reaches_hw(model, node, downstream=False) and _reaches_hw(model, node, downstream=True):
            dts = [model.get_tensor_datatype(i).name for i in node.input if i and model.get_initializer(i) is None]
            hint = _stuck_hint(model, node)
            stuck.append(f"{node.name} (op {node.op_type}, inputs {dts}{': ' + hint if hint else ''})")
    if stuck:
        raise UnsupportedOpError(
            "FINN could not lower these nodes to hardware layers, and they sit between hardware "
            "layers so they cannot run on the host: " + "; ".join(stuck) + ". FINN lowers "
            "quantised Conv/MatMul (integer or bipolar weights and inputs), MultiThreshold, "
            "MaxPool, Pad, elementwise Add/Mul and a few layout ops; float or unsupported ops must "
            "stay before the first or after the last quantised layer."
        )
    return host_nodes(model)


def float_tensors_in(model: ModelWrapper) -> list[str]:
    """``"node: tensor (role)"`` for every FLOAT32 input/output/parameter of every node."""
    found = []
    for node in model.graph.node:
        for role, names in (("input", node.input), ("output", node.output)):
            for name in names:
                if name and model.get_tensor_datatype(name) == DataType["FLOAT32"]:
                    kind = "parameter" if model.get_initializer(name) is not None else role
                    found.append(f"{node.name} ({node.op_type}): {name} ({kind})")
    return found


def _first_five(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


#: layer kinds the flow lowers only with integer residual streams (``residual_bits``), keyed by the layer protocol's
#: ``(family, decomposition)`` (``brevitas_abc.nn.protocol.BinaryLayer``), with what they are
NEEDS_INTEGER_RESIDUALS = {
    ("group_net", "block"): "Group-Net mode='block'",
    ("group_net", "group"): "Group-Net mode='group'",
}


def check_torch_model(model) -> None:
    """Refuse a torch model holding layers the flow does not lower, naming each.

    Layers are recognised through the layer protocol (``family`` and ``decomposition`` of every
    ``BinaryLayer``), not by class names. Group-Net's block and group decompositions with float residual streams
    (``residual_bits=None``) add float tensors and gate-weighted branch sums that no FINN layer takes (FINN's adds
    need integer streams); without this check the build would fail deep in streamlining with an assertion about a
    MultiThreshold node. With ``residual_bits`` they are integer throughout and are built
    (``brevitas_abc.nn.group_net.residual``).

    A ``DenseNet`` (``brevitas_abc.models.densenet``) not in its integer form (``densenet_integer``: one integer
    scale per dense block, marked by ``stream_bits``) concatenates float streams with different scales (FINN issue
    954): refused likewise; the integer form is built (``StreamingConcat``).

    Raises:
        UnsupportedOpError: naming each such module and the supported alternative.
    """
    from brevitas_abc.models.densenet import DenseNet
    from brevitas_abc.nn.protocol import binary_layers

    dense = [f"{name or '<model>'} (DenseNet, no stream_bits)" for name, m in model.named_modules()
             if isinstance(m, DenseNet) and getattr(m, "stream_bits", None) is None]
    if dense:
        raise UnsupportedOpError(
            f"these modules cannot be lowered to FINN hardware layers: {_first_five(dense)}. Their dense connections "
            "concatenate float tensors with different float scales, which FINN does not streamline (FINN issue 954) "
            "and its StreamingConcat joins only integer streams. Use the integer form: "
            "brevitas_abc.models.create_model('densenet_bc_cifar_integer', lbc='full' or 'fused', stream_bits=2..8) "
            "(or brevitas_abc.models.densenet_integer.integer_densenet(model)): one integer scale per dense block.")

    found = [f"{name or '<model>'} ({type(m).__name__}: {NEEDS_INTEGER_RESIDUALS[(m.family, m.decomposition)]}, "
             "residual_bits=None)"
             for name, m in binary_layers(model)
             if (m.family, m.decomposition) in NEEDS_INTEGER_RESIDUALS and getattr(m, "residual_bits", None) is None]
    if found:
        raise UnsupportedOpError(
            f"these modules cannot be lowered to FINN hardware layers: {_first_five(found)}. Their residual "
            "streams and gated branch sums are float, and FINN adds only integer streams. Train them with integer "
            "residual streams: GroupNetConfig(mode='block' or 'group', residual_bits=2..8) (or use "
            "GroupNetConfig(mode='layer', branch_scale_bits=2..4)).")


def check_bipolar_after_relu(model: ModelWrapper) -> None:
    """Refuse a ``BipolarQuant`` that reads a ``Relu``/``Selu`` output directly.

    FINN's QONNX converter (``QuantReluHandler``) treats that pair as a 1-bit unsigned ReLU quantizer
    (threshold ``scale / 2``, output 0/1), whereas the graph means ``sign(relu(x)) = +1`` for every x: the build
    would compute other numbers (or stop in FINN's xnor conversion with "Unexpected scale/bias attributes"). An
    ABC activation base with shift ``v = 0.5`` (offset ``v - 0.5 = 0``; the "centered" preset's last base for
    N >= 2) behind a kept ReLU exports exactly this; that base is constant +1 anyway.

    Raises:
        UnsupportedOpError: naming each such BipolarQuant and its producer.
    """
    found = []
    for node in model.get_nodes_by_op_type("BipolarQuant"):
        producer = model.find_producer(node.input[0])
        if producer is not None and producer.op_type in ("Relu", "Selu"):
            found.append(f"{node.name} (reads {producer.op_type} {producer.name})")
    if found:
        raise UnsupportedOpError(
            f"BipolarQuant directly after a ReLU cannot be lowered exactly: {_first_five(found)}. sign(relu(x)) is +1 "
            "for every x, but FINN "
            "converts the pair as a 1-bit ReLU quantizer. For ABC layers: remove the float ReLU before them "
            "(lightning_modules' build_model does; the ABC activation is the nonlinearity) or use act_shifts whose "
            "thresholds 0.5 - v are above 0 (no shift v >= 0.5).")
