"""FoldUnityScaleWeightQuantizers, ConvertGemmsToMatMul and finn_flow's step_qonnx_to_finn: the FINN-ONNX graph is
the one finn-plus's own step gives (same op types in the same order, same weights and datatypes), on an exported
ABC CNV with a Brevitas 8-bit input quantiser (Quant, not folded), binary weight bases (BipolarQuant, scale 1, folded in one pass) and an
ABC dense layer (M*N Gemms, converted in one pass), and executes identically on real CIFAR-10 images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from finn_flow.execute import GraphExecutor
from finn_flow.transformations.remove_exact_identity_ops import exact_identity_removal
from tests.finn_flow.abc_models import abc_cnv_with_input_quantizer

pytestmark = pytest.mark.finn


def _run(finn_step, path, tmp):
    from qonnx.core.modelwrapper import ModelWrapper

    from finn_flow.config import FinnFlowConfig
    from finn_flow.finn_env import builder_without_vivado, prepare_finn

    prepare_finn(tmp / "finn_tmp")
    with builder_without_vivado(), exact_identity_removal():  # as in finn_flow.build
        cfg = FinnFlowConfig(output_dir=str(tmp / "out"), synth_clk_period_ns=10.0, generate_outputs=[],
                             board="Pynq-Z1")
        if finn_step:
            from finn.builder.build_dataflow_steps import step_qonnx_to_finn
        else:
            from finn_flow.steps import step_qonnx_to_finn
        return step_qonnx_to_finn(ModelWrapper(str(path)), cfg)


@pytest.mark.slow
def test_step_qonnx_to_finn_gives_finn_plus_graph_in_one_fold_pass(tmp_path):
    from brevitas_abc import export_qonnx
    from finn_flow.transformations import DuplicateSharedWeightQuantizers, FoldUnityScaleWeightQuantizers
    from qonnx.core.modelwrapper import ModelWrapper
    from tests.conftest import cifar_test_uint8

    images, _ = cifar_test_uint8(2)
    x = (images.astype(np.float32) / 255 - 0.5) / 0.25
    path = tmp_path / "abc.onnx"
    export_qonnx(abc_cnv_with_input_quantizer(), torch.from_numpy(x[:1]), path)
    # as in the build: one weight quantiser per consumer first (an ABC weight base feeds N convolutions)
    ModelWrapper(str(path)).transform(DuplicateSharedWeightQuantizers()).save(str(path))
    rewrite = FoldUnityScaleWeightQuantizers()
    folded = ModelWrapper(str(path)).transform(rewrite)
    assert len(rewrite.folded) == 2 * 2 + 2 * 2 + 2 * 2  # M*N binary weights per ABC layer, three layers
    assert [n.op_type for n in folded.graph.node].count("Quant") == 1  # the 8-bit input quantiser stays

    ours, finn = _run(False, path, tmp_path / "ours"), _run(True, path, tmp_path / "finn")
    assert [n.op_type for n in ours.graph.node] == [n.op_type for n in finn.graph.node]
    assert not {"Quant", "BipolarQuant"} & {n.op_type for n in ours.graph.node}
    for a, b in zip(ours.graph.node, finn.graph.node):
        for i, j in zip(a.input, b.input):
            wa, wb = ours.get_initializer(i), finn.get_initializer(j)
            assert (wa is None) == (wb is None)
            if wa is not None:
                np.testing.assert_array_equal(wa, wb)
                assert ours.get_tensor_datatype(i) == finn.get_tensor_datatype(j)
    out_ours = np.stack([GraphExecutor(ours).run(img[None])[ours.graph.output[0].name] for img in x])
    out_finn = np.stack([GraphExecutor(finn).run(img[None])[finn.graph.output[0].name] for img in x])
    np.testing.assert_array_equal(out_ours, out_finn)
