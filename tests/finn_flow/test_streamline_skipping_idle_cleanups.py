"""StreamlineSkippingIdleCleanups / finn_flow's step_streamline: the graph is byte for byte the one finn-plus's own
``step_streamline`` gives, on a bitwise ABC(2, 2) CNV with an 8-bit input quantiser, built from real CIFAR-10 images
(the graph the build's own steps hand to streamlining; the model is untrained, so this test compares graphs, not
outputs), and cleanups were skipped."""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.finn, pytest.mark.slow]


def _abc_cnv() -> torch.nn.Module:
    """8-bit input quantiser, two unpadded ABC(2, 2) convolutions with BatchNorm and a max-pool, an ABC dense layer."""
    import brevitas_abc
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat
    from torch import nn

    torch.manual_seed(0)
    body = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8), nn.Flatten(),
                         nn.Linear(8 * 13 * 13, 10, bias=False))
    brevitas_abc.swap(body, brevitas_abc.ABCConfig(2, 2, keep_first=False, keep_last=False, coefficient_bits=3),
                      verbose=False)
    return nn.Sequential(QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False),
                         *body).eval()


def test_step_streamline_gives_finns_graph_with_fewer_cleanups(tmp_path):
    from qonnx.core.modelwrapper import ModelWrapper

    from finn_flow import steps
    from finn_flow.config import FinnFlowConfig
    from finn_flow.finn_env import builder_without_vivado, prepare_finn
    from finn_flow.model_io import export_torch
    from finn_flow.transformations.remove_exact_identity_ops import exact_identity_removal
    from finn_flow.transformations.streamline_skipping_idle_cleanups import StreamlineSkippingIdleCleanups
    from tests.conftest import cifar_test_uint8

    torch.manual_seed(0)
    images, _ = cifar_test_uint8(1)  # real CIFAR-10 test images: the first one exports the model
    qonnx = export_torch(_abc_cnv(), images[:1] / 255.0, tmp_path / "model_qonnx.onnx")  # as finn_flow.build does
    prepare_finn(tmp_path / "finn_tmp")
    with builder_without_vivado(), exact_identity_removal():  # as finn_flow.build runs its steps
        from finn.builder.build_dataflow_steps import build_dataflow_step_lookup
        from finn.builder.build_dataflow_steps import step_streamline as finn_step_streamline
        from finn.transformation.streamline import Streamline

        cfg = FinnFlowConfig(output_dir=str(tmp_path / "out"), synth_clk_period_ns=10.0, generate_outputs=[],
                             board="Pynq-Z1", input_scale=1 / 255, abc_mapping="bitwise")
        # the build's own steps up to step_streamline (the build runs on to the estimates; nothing after this step
        # is looked at here)
        step_list = steps.finn_flow_steps(vivado=False, codegen=False)
        before = ModelWrapper(str(qonnx))
        for step in step_list[:step_list.index(steps.step_streamline)]:
            before = (build_dataflow_step_lookup[step] if isinstance(step, str) else step)(before, cfg)
        graph = before.model.SerializeToString()
        finns = finn_step_streamline(ModelWrapper(graph), cfg)
        ours = steps.step_streamline(ModelWrapper(graph), cfg)  # what the build's step_streamline produces
        assert ours.model.SerializeToString() == finns.model.SerializeToString()
        rewrite = StreamlineSkippingIdleCleanups()
        skipped = ModelWrapper(graph).transform(rewrite)
        streamlined = ModelWrapper(graph).transform(Streamline())
        assert skipped.model.SerializeToString() == streamlined.model.SerializeToString()
        assert len(rewrite.skipped) >= 5, rewrite.skipped  # most of the 22 rewrites find nothing on this graph
