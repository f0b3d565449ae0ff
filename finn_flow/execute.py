"""Execute a QONNX/FINN graph image by image, fast enough for hundreds of verification images.

qonnx's ``execute_onnx`` builds and compiles a fresh onnxruntime session for every standard node at
every call (serialising the node's weights each time): about 0.25 s per LFC image. The result of a
node does not depend on the session, so :class:`GraphExecutor` builds one session per standard node
(constant inputs baked in as initializers) and reuses it for every image; custom nodes (QONNX
``Quant``/``MultiThreshold``, FINN hardware layers in Python mode) run through their own
``execute_node`` exactly as in ``execute_onnx``. ``StreamingDataflowPartition`` nodes are executed by
a nested executor on the partition's graph. Outputs are identical to ``execute_onnx``'s.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from onnx import helper, numpy_helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp, is_custom_op
from qonnx.util.basic import qonnx_make_model


class GraphExecutor:
    """Run ``model`` on one input at a time, reusing per-node onnxruntime sessions.

    Args:
        model: a QONNX/FINN ``ModelWrapper`` with a single dynamic input and shapes annotated.
    """

    def __init__(self, model: ModelWrapper):
        self.model = model
        self.graph = model.graph
        # the standard ONNX domain's opset (a Brevitas Quant export lists qonnx's own domain first)
        opsets = {o.domain: o.version for o in model.model.opset_import}
        self.opset = opsets.get("", opsets.get("ai.onnx", 11))
        # own, aligned copies of the initializers (views into protobuf bytes can be misaligned)
        self.empty = {k: np.array(v) for k, v in model.make_empty_exec_context().items()}
        self.input_name = [i.name for i in self.graph.input if model.get_initializer(i.name) is None][0]
        self.output_names = [o.name for o in self.graph.output]
        self._sessions: dict[int, ort.InferenceSession] = {}
        self._custom: dict[int, object] = {}
        self._children: dict[int, GraphExecutor] = {}

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
                inits.append(numpy_helper.from_array(np.asarray(const), name))
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
        sess = ort.InferenceSession(node_model.SerializeToString(), opts)
        self._sessions[index] = sess
        return sess

    def run(self, x: np.ndarray) -> dict:
        """Execute on input ``x`` (with its batch axis); return the full execution context."""
        context = dict(self.empty)
        context[self.input_name] = np.asarray(x, dtype=np.float32)
        for index, node in enumerate(self.graph.node):
            if node.op_type == "StreamingDataflowPartition":
                child = self._children.get(index)
                if child is None:
                    child = GraphExecutor(ModelWrapper(getCustomOp(node).get_nodeattr("model")))
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
