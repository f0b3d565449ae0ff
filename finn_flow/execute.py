"""Execute a QONNX/FINN graph image by image, fast enough for hundreds of verification images.

qonnx's ``execute_onnx`` builds and compiles a fresh onnxruntime session for every standard node at
every call (serialising the node's weights each time): about 0.25 s per LFC image. The result of a
node does not depend on the session, so :class:`GraphExecutor` builds one session per standard node
(constant inputs baked in as initializers) and reuses it for every image; custom nodes (QONNX
``Quant``/``MultiThreshold``, FINN hardware layers in Python mode) run through their own
``execute_node`` exactly as in ``execute_onnx``. ``StreamingDataflowPartition`` nodes are executed by
a nested executor on the partition's graph. Outputs are identical to ``execute_onnx``'s.

``GraphExecutor(model, float64=True)`` runs the same graph in float64 (float32 constants widened exactly): the
graph's value computed about 10^9 times more precisely than its float32 run, the reference for the integer stages of
a build (:mod:`finn_flow.verify`). ``Conv`` then runs through ``torch.nn.functional.conv2d`` (onnxruntime has no
float64 convolution) and ``Quant`` through qonnx's ``int_quant`` without its cast back to float32; other ops
without a float64 kernel in onnxruntime (``AveragePool``) through ``onnx.reference``.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as NotImplementedByOnnxruntime
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp, is_custom_op
from qonnx.util.basic import qonnx_make_model


class GraphExecutor:
    """Run ``model`` on one input at a time, reusing per-node onnxruntime sessions.

    Args:
        model: a QONNX/FINN ``ModelWrapper`` with a single dynamic input and shapes annotated.
        float64: compute in float64 (module docstring).
    """

    def __init__(self, model: ModelWrapper, float64: bool = False):
        self.model = model
        self.float64 = float64
        self.float_type = np.float64 if float64 else np.float32
        self.graph = model.graph
        # the standard ONNX domain's opset (a Brevitas Quant export lists qonnx's own domain first)
        opsets = {o.domain: o.version for o in model.model.opset_import}
        self.opset = opsets.get("", opsets.get("ai.onnx", 11))
        # own, aligned copies of the initializers (views into protobuf bytes can be misaligned)
        self.empty = {k: self._widened(np.array(v)) for k, v in model.make_empty_exec_context().items()}
        self.input_name = [i.name for i in self.graph.input if model.get_initializer(i.name) is None][0]
        self.output_names = [o.name for o in self.graph.output]
        self._sessions: dict[int, ort.InferenceSession] = {}
        self._custom: dict[int, object] = {}
        self._children: dict[int, GraphExecutor] = {}

    def _widened(self, value: np.ndarray) -> np.ndarray:
        """``value`` as float64 where it is float32 and this executor computes in float64 (exact)."""
        return value.astype(np.float64) if self.float64 and value.dtype == np.float32 else value

    def _session(self, index: int, node, context) -> ort.InferenceSession:
        sess = self._sessions.get(index)
        if sess is not None:
            return sess
        inputs, inits = [], []
        for name in node.input:
            if not name:
                continue
            const = self.model.get_initializer(name)
            if const is not None:
                inits.append(numpy_helper.from_array(self._widened(np.asarray(const)), name))
            else:
                arr = np.asarray(context[name])
                inputs.append(helper.make_tensor_value_info(
                    name, helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape)))
        # untyped outputs: onnxruntime infers them (value_info may be missing or stale, e.g. Shape)
        outputs = [helper.make_empty_tensor_value_info(o) for o in node.output]
        graph = helper.make_graph([node], "single_node", inputs, outputs, initializer=inits)
        node_model = qonnx_make_model(graph)
        node_model.opset_import[0].version = self.opset
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        try:
            sess = ort.InferenceSession(node_model.SerializeToString(), opts)
        except NotImplementedByOnnxruntime:
            if not self.float64:
                raise
            # onnxruntime has no float64 kernel for some ops (AveragePool): ONNX's reference implementation
            from onnx.reference import ReferenceEvaluator

            sess = ReferenceEvaluator(node_model)
        self._sessions[index] = sess
        return sess

    def run(self, x: np.ndarray) -> dict:
        """Execute on input ``x`` (with its batch axis); return the full execution context."""
        if not self.float64:
            return self._run(x)
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # per-image convolutions are small: more threads only contend (40x slower, measured)
        try:
            return self._run(x)
        finally:
            torch.set_num_threads(threads)

    def _run(self, x: np.ndarray) -> dict:
        context = dict(self.empty)
        context[self.input_name] = np.asarray(x, dtype=self.float_type)
        for index, node in enumerate(self.graph.node):
            if self.float64 and (node.op_type, node.domain) in _FLOAT64_OPS:
                context[node.output[0]] = _float64_op(node, context)
            elif node.op_type == "StreamingDataflowPartition":
                child = self._children.get(index)
                if child is None:
                    child = GraphExecutor(ModelWrapper(getCustomOp(node).get_nodeattr("model")), self.float64)
                    self._children[index] = child
                child_ctx = child.run(context[node.input[0]])
                for mine, theirs in zip(node.output, child.output_names):
                    context[mine] = child_ctx[theirs]
            elif is_custom_op(node.domain, node.op_type):
                inst = self._custom.get(index)
                if inst is None:
                    inst = getCustomOp(node, onnx_opset_version=self.opset)
                    self._custom[index] = inst
                inst.execute_node(context, self.graph)
            else:
                sess = self._session(index, node, context)
                feeds = {n: context[n] for n in node.input if n and self.model.get_initializer(n) is None}
                for name, value in zip(node.output, sess.run(None, feeds)):
                    context[name] = value
        return context


#: ops :class:`GraphExecutor` computes itself in float64: (op type, domain)
_FLOAT64_OPS = {("Conv", ""), ("Conv", "ai.onnx"), ("Quant", "qonnx.custom_op.general"),
                ("IntQuant", "qonnx.custom_op.general")}


def _float64_op(node, context: dict) -> np.ndarray:
    """``Conv`` (2-D, ``auto_pad`` NOTSET) or QONNX ``Quant`` of float64 inputs, in float64."""
    from qonnx.util.basic import get_by_name

    def attribute(name, default):
        found = get_by_name(node.attribute, name)
        return default if found is None else helper.get_attribute_value(found)

    inputs = [context[name] if name else None for name in node.input]
    if node.op_type in ("Quant", "IntQuant"):
        from qonnx.custom_op.general.intquant import int_quant

        rounding = attribute("rounding_mode", b"ROUND")
        return np.asarray(int_quant(*inputs[:4], attribute("signed", 1), attribute("narrow", 0),
                                    rounding.decode() if isinstance(rounding, bytes) else rounding))
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.asarray(inputs[0], dtype=np.float64))
    w = torch.from_numpy(np.asarray(inputs[1], dtype=np.float64))
    if x.dim() != 4 or attribute("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError(f"float64 execution of {node.op_type} node {node.name!r}: only 2-D convolutions with "
                                  "explicit pads are supported")
    top, left, bottom, right = attribute("pads", [0, 0, 0, 0])
    bias = None if len(inputs) < 3 or inputs[2] is None else torch.from_numpy(np.asarray(inputs[2], dtype=np.float64))
    y = F.conv2d(F.pad(x, (left, right, top, bottom)), w, bias, stride=tuple(attribute("strides", [1, 1])),
                 dilation=tuple(attribute("dilations", [1, 1])), groups=attribute("group", 1))
    return y.numpy()
