"""ABC-Net models through the FINN flow, both mappings, verified on 200 real MNIST test images.

Models trained (300 Adam steps on real MNIST) with ``coefficient_bits=3``, the hardware-aware
constraint that makes every ``alpha_m[c] beta_n`` an integer times a per-channel scale: both mappings
build integer-only accelerators that execute exactly like the trained PyTorch model. With free float
coefficients the bitwise form still executes exactly like PyTorch, but FLOAT32 remains inside the
accelerator and the build says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

import finn_flow

from .abc_models import abc_cnv, abc_mlp, swapped, trained_integer_abc
from .build_checks import assert_every_stage_exact
from .conftest import N_IMAGES
from .test_build_stock import _assert_codegen, _assert_integer_dataflow

pytestmark = pytest.mark.finn
FACTORIES = {"mlp": abc_mlp, "cnv": abc_cnv}
ABC_LAYERS = {"mlp": 3, "cnv": 4}


def _reference(result) -> np.ndarray:
    return np.load(Path(result.output_dir) / "input" / "verify_expected.npy")


def _assert_not_degenerate(result):
    # require outputs that differ between images (not a constant network)
    assert len(np.unique(_reference(result).round(5), axis=0)) >= 10, "test model is (almost) constant"


def _mvaus(result) -> list:
    model = ModelWrapper(str(Path(result.output_dir) / "intermediate_models" / "step_generate_estimate_reports.onnx"))
    return [getCustomOp(node) for node in model.graph.node if node.op_type.startswith("MVAU")]


def _mvau_count(result) -> int:
    return len(_mvaus(result))


@pytest.fixture(scope="module")
def integer_abc_builds(tmp_path_factory, mnist_images):
    """Trained ABC(2, 2) MLP and CNV-style nets at 3 coefficient bits, each built with both mappings;
    the verification reference is the trained PyTorch model itself. The export does not depend on the mapping: the
    bitwise build exports the model, the fused build reads that QONNX file, and its reference (the graph's outputs on
    the same images) must be PyTorch's bit for bit."""
    images, _ = mnist_images
    builds = {}
    for name, factory in FACTORIES.items():
        root = tmp_path_factory.mktemp(f"abc_{name}")
        model = trained_integer_abc(factory, coefficient_bits=3, steps=300)
        builds[name, "bitwise"] = finn_flow.build(model, root / "bitwise", abc_mapping="bitwise", target_fps=2000,
                                                  verify_inputs=images)
        builds[name, "fused"] = finn_flow.build(root / "bitwise" / "input" / "model_qonnx.onnx", root / "fused",
                                                abc_mapping="fused", target_fps=2000, verify_inputs=images)
        assert np.array_equal(_reference(builds[name, "fused"]), _reference(builds[name, "bitwise"])), name
    return builds


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("mapping", ["bitwise", "fused"])
def test_integer_abc_builds_integer_only_and_exact(integer_abc_builds, mnist_images, name, mapping):
    result = integer_abc_builds[name, mapping]
    assert result.steps_run[-2:] == ["step_hw_codegen", "step_verify_folded"]
    _assert_integer_dataflow(result)
    _assert_codegen(result)
    # a trained model (chance: 10 %), not an untrained net with injected coefficients
    assert (_reference(result).argmax(1) == mnist_images[1]).mean() > 0.6
    assert result.float_in_dataflow == []
    # power-of-two scales times integers: every stage reproduces PyTorch's logits bit for bit
    assert_every_stage_exact(result, N_IMAGES, max_abs_diff=0.0, distinct_outputs=10)
    mapping_report = json.loads((Path(result.output_dir) / "report" / "abc_mapping.json").read_text())
    assert mapping_report["float_branch_sums"] == []
    assert len(mapping_report["integer_branch_sums"]) == ABC_LAYERS[name]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_fused_mapping_uses_fewer_mvaus(integer_abc_builds, name):
    # bitwise: M*N = 4 xnor MVAUs per layer; fused: one integer MVAU per activation base (N = 2)
    bitwise = _mvau_count(integer_abc_builds[name, "bitwise"])
    fused = _mvau_count(integer_abc_builds[name, "fused"])
    layers = ABC_LAYERS[name]
    assert bitwise == layers * 4 and fused == layers * 2, (bitwise, fused)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_fused_mapping_streams_one_bit_activations(integer_abc_builds, name):
    # fused: the activation bases reach the integer MVAUs as 1-bit BIPOLAR streams; only behind a +-1 padding
    # (CNV convolutions; FINN pads with bit 0) are they carried as 0/1 values in a 2-bit stream
    inputs = [mvau.get_nodeattr("inputDataType") for mvau in _mvaus(integer_abc_builds[name, "fused"])]
    weights = [mvau.get_nodeattr("weightDataType") for mvau in _mvaus(integer_abc_builds[name, "fused"])]
    assert not any(w in ("BIPOLAR", "BINARY") for w in weights), weights  # integer (fused) weights, no xnor
    assert inputs.count("BIPOLAR") >= 2 * 2, inputs  # at least the two fully connected ABC layers, N = 2 each
    if name == "mlp":
        assert set(inputs) == {"BIPOLAR"}, inputs
    else:
        assert set(inputs) <= {"BIPOLAR", "UINT2"}, inputs


def test_fused_single_activation_base_thresholds_merge_into_the_mvau(tmp_path, mnist_images):
    # N = 1: each fused layer's integer MatMul feeds the next layer's bipolar thresholds directly, and FINN merges
    # them into that MVAU (its bipolar output form, out_scale 2 / out_bias -1), not a standalone Thresholding layer
    images, _ = mnist_images
    model = trained_integer_abc(abc_mlp, coefficient_bits=3, steps=200, num_act_bases=1)
    result = finn_flow.build(model, tmp_path / "fused_n1", abc_mapping="fused", target_fps=2000,
                             verify_inputs=images)
    _assert_integer_dataflow(result)
    _assert_codegen(result)
    assert_every_stage_exact(result, N_IMAGES, max_abs_diff=0.0, distinct_outputs=10)
    mvaus = _mvaus(result)
    assert len(mvaus) == ABC_LAYERS["mlp"], [m.onnx_node.name for m in mvaus]
    assert [m.get_nodeattr("inputDataType") for m in mvaus] == ["BIPOLAR"] * len(mvaus)
    # the two hidden layers' MVAUs compute the next activation base themselves
    assert [m.get_nodeattr("outputDataType") for m in mvaus[:2]] == ["BIPOLAR", "BIPOLAR"]


def test_float_coefficients_are_exact_but_reported(tmp_path, mnist_images):
    images, _ = mnist_images
    model = swapped(abc_mlp, seed=1)
    result = finn_flow.build(model, tmp_path / "float", verify_inputs=images, allow_float_in_dataflow=True,
                             codegen=False)
    _assert_not_degenerate(result)
    assert [row["stage"] for row in result.verification] == ["qonnx", "streamlined", "hw_layers", "folded"]
    for row in result.verification:  # reference: PyTorch
        assert row["argmax_agreement"] == 1.0 and row["max_abs_diff"] < 1e-4, row
    assert result.float_in_dataflow, "free float alphas/betas must show up as FLOAT32 in the accelerator"
    with pytest.raises(finn_flow.FloatInDataflowError, match="FLOAT32 tensors inside the dataflow partition"):
        finn_flow.build(model, tmp_path / "strict", verify_inputs=images[:5], codegen=False)
    assert not (tmp_path / "strict" / "report" / "finn_flow_result.json").exists()
