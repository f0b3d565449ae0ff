"""Map specialised hardware layers (``*_hls``, ``*_rtl``) back to their generic FINN op.

Specialised layers execute only in cppsim (Vitis HLS) or rtlsim (Vivado xsim). Their generic
counterpart (same op type without the suffix, domain ``finn.custom_op.fpgadataflow``) holds the same
folded parameters and executes in Python, bit-exactly, so the final folded graph can be verified
without Xilinx tools. Used on a copy of the graph for verification only; the build output keeps the
specialised layers.
"""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

GENERIC_DOMAIN = "finn.custom_op.fpgadataflow"
_SUFFIXES = ("_hls", "_rtl")


class ConvertSpecializedToGenericLayers(Transformation):
    """Strip ``_hls``/``_rtl`` from op types, set the generic domain and Python execution.

    Recurses into ``StreamingDataflowPartition`` nodes' child models is NOT done here: the caller
    converts the child model it executes (see ``finn_flow.verify``).
    """

    def apply(self, model: ModelWrapper):
        modified = False
        for node in model.graph.node:
            if node.domain.startswith(GENERIC_DOMAIN + ".") and node.op_type.endswith(_SUFFIXES):
                node.op_type = node.op_type[:-4]
                node.domain = GENERIC_DOMAIN
                inst = getCustomOp(node)
                if "exec_mode" in inst.get_nodeattr_types():
                    inst.set_nodeattr("exec_mode", "")
                modified = True
        return model, modified
