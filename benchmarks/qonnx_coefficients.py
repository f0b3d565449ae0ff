"""``export_with_integer_coefficients``: an ABC model exported to QONNX with its branch coefficients replaced by
random integers times one scale (the integer-multiple form the FINN mappings need, DESIGN 1.3), for layer
families or untrained nets without ``coefficient_bits`` training. Used by ``benchmarks/finn_cnv_estimates.py``
and the FINN tests (``tests/finn_flow/abc_models.py``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


def export_with_integer_coefficients(model: nn.Module, example: np.ndarray, path: Path, scale: float = 0.0137,
                                     seed: int = 0, check_export: bool = True) -> Path:
    """Export to QONNX, then set every per-channel branch coefficient ``alpha_m beta_n`` to a random
    integer in 1..3 times one ``scale``: the integer-multiple form DESIGN 1.3 needs.

    ``check_export=False`` keeps a graph whose export check failed (``export_qonnx`` writes it before comparing):
    for untrained wide nets, where some pre-activations lie within float32 rounding of a threshold and flip
    between PyTorch's and ONNX's convolution summation orders. The coefficients are replaced anyway."""
    from brevitas_abc import export_qonnx
    from brevitas_abc.export.qonnx_export import QONNXMismatchError
    from qonnx.core.modelwrapper import ModelWrapper

    try:
        export_qonnx(model, torch.from_numpy(example.astype(np.float32)), path)
    except QONNXMismatchError:
        if check_export:
            raise
    wrapper = ModelWrapper(str(path))
    rng = np.random.default_rng(seed)
    for node in wrapper.graph.node:
        producer = wrapper.find_producer(node.input[0])
        # only the branch coefficients (a Mul right after a binary Conv/MatMul/Gemm), not BatchNorm's
        if node.op_type == "Mul" and producer is not None and producer.op_type in ("Conv", "MatMul", "Gemm"):
            c = wrapper.get_initializer(node.input[1])
            if c is not None and c.size > 1:
                wrapper.set_initializer(node.input[1], (rng.integers(1, 4, c.shape) * scale).astype(np.float32))
    wrapper.save(str(path))
    return path
