"""Stock Brevitas BNN-PYNQ networks (CNV W1A1 on CIFAR-10, LFC W1A1 on MNIST) through the FINN flow.

Each build runs to the estimate reports, the CNV's on to HLS/RTL code generation; every stage is executed on 200
real test images and compared with PyTorch. The LFC's build stops before code generation: its layers are the kinds
of the CNV's classifier (binary MVAUs with thresholds), whose code the CNV's build generates, and writing the LFC's
2.9 M weights into HLS headers cost 20 of its build's 27 CPU seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

import finn_flow

from .build_checks import assert_every_stage_exact
from .conftest import N_IMAGES, bnn_pynq

pytestmark = pytest.mark.finn


def _assert_verified(result):
    # untrained nets: require outputs that differ between images (not a constant network)
    assert_every_stage_exact(result, N_IMAGES, distinct_outputs=10)


def _final_partition(result, codegen: bool = True) -> ModelWrapper:
    """The folded dataflow partition after code generation (``codegen=False``: after the estimates, for builds that
    stop there)."""
    models = Path(result.output_dir) / "intermediate_models"
    return ModelWrapper(str(models / ("step_hw_codegen.onnx" if codegen else "step_generate_estimate_reports.onnx")))


def _assert_integer_dataflow(result, codegen: bool = True):
    model = _final_partition(result, codegen)
    assert result.float_in_dataflow == []
    for node in model.graph.node:
        assert node.domain.startswith("finn.custom_op.fpgadataflow"), node.op_type
        for name in list(node.input) + list(node.output):
            assert model.get_tensor_datatype(name) != DataType["FLOAT32"], (node.name, name)


def _assert_codegen(result):
    model = _final_partition(result)
    for node in model.graph.node:
        code_dir = Path(getCustomOp(node).get_nodeattr("code_gen_dir_ipgen"))
        assert code_dir.is_dir(), node.name
        suffix = ".cpp" if node.op_type.endswith("_hls") else ".v"
        assert any(p.suffix in (suffix, ".sv") for p in code_dir.iterdir()), (node.name, list(code_dir.iterdir()))


@pytest.fixture(scope="module")
def cnv_build(tmp_path_factory, cifar_images):
    images, _ = cifar_images
    return finn_flow.build(bnn_pynq("cnv_1w1a"), tmp_path_factory.mktemp("cnv") / "build",
                           board="Pynq-Z1", target_fps=1000, verify_inputs=images)


@pytest.fixture(scope="module")
def lfc_build(tmp_path_factory, mnist_images):
    images, _ = mnist_images
    return finn_flow.build(bnn_pynq("lfc_1w1a"), tmp_path_factory.mktemp("lfc") / "build",
                           board="ZCU104", target_fps=5000, verify_inputs=images, codegen=False)


@pytest.mark.parametrize("which", ["cnv_build", "lfc_build"])
def test_stock_bnn_builds_verified_integer_and_codegen(which, request):
    result = request.getfixturevalue(which)
    assert result.status == "stopped_before_vivado"
    assert "step_synthesize_bitfile" in result.skipped_steps and "XILINX_VIVADO" in result.message
    last = "step_hw_codegen" if which == "cnv_build" else "step_generate_estimate_reports"
    assert result.steps_run[-2:] == [last, "step_verify_folded"]
    _assert_verified(result)
    _assert_integer_dataflow(result, codegen=which == "cnv_build")
    if which == "cnv_build":
        _assert_codegen(result)
    report = Path(result.output_dir) / "report"
    for name in ("estimate_network_performance.json", "estimate_layer_resources.json",
                 "estimate_layer_cycles.json", "verification_report.json"):
        assert (report / name).is_file(), name
    assert result.estimates["estimated_throughput_fps"] > 0


def test_cnv_folds_to_target_fps_and_keeps_output_scale_on_host(cnv_build):
    # FINN folds to meet 1000 FPS at 100 MHz: the slowest layer needs at most 100,000 cycles
    assert cnv_build.estimates["max_cycles"] <= 100_000
    assert cnv_build.estimates["estimated_throughput_fps"] >= 1000
    # on the host: the NCHW -> NHWC transpose of the input, the output de-quantisation (scale, bias)
    places = {(row["op_type"], row["place"]) for row in cnv_build.host_nodes}
    assert places <= {("Transpose", "before accelerator"), ("Mul", "after accelerator"),
                      ("Add", "after accelerator")}, places


def test_folded_outputs_match_pytorch_on_real_images(cnv_build):
    vdir = Path(cnv_build.output_dir) / "verification"
    folded = np.load(vdir / "folded_outputs.npy")
    reference = np.load(Path(cnv_build.output_dir) / "input" / "verify_expected.npy")
    assert folded.shape == (N_IMAGES, 10)
    np.testing.assert_array_equal(folded.argmax(1), reference.argmax(1))
    np.testing.assert_allclose(folded, reference, atol=1e-4)
