"""QONNX export of swapped ABC models executes exactly like PyTorch eval on real MNIST images."""
import copy

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

import brevitas_abc.export.qonnx_export as qonnx_export
from brevitas_abc import ABCConfig, QONNXMismatchError, convert, export_qonnx, swap
from brevitas_abc.nn import ABCExportLayer


def _swapped(trained, num_weight_bases, num_act_bases, granularity):
    config = ABCConfig(num_weight_bases=num_weight_bases, num_act_bases=num_act_bases,
                       weight_granularity=granularity)
    model = swap(copy.deepcopy(trained), config, verbose=False)
    with torch.no_grad():  # move betas and shifts away from their initial values, as training would
        for layer in model.modules():
            if getattr(layer, "input_quant", None) is not None:
                layer.input_quant.betas.mul_(torch.linspace(0.6, 1.4, layer.input_quant.num_bases))
                layer.input_quant.shifts.add_(0.05)
    return model.eval()


@pytest.mark.slow
@pytest.mark.parametrize("granularity", ["per_tensor", "per_channel"])
@pytest.mark.parametrize("num_act_bases", [1, 3, 5, None])
@pytest.mark.parametrize("num_weight_bases", [1, 2, 3, 5])
def test_qonnx_execution_equals_pytorch_on_real_images(tmp_path, trained_mnist_cnn, mnist_test_batch,
                                                        num_weight_bases, num_act_bases, granularity):
    x, _ = mnist_test_batch
    model = _swapped(trained_mnist_cnn, num_weight_bases, num_act_bases, granularity)
    report = export_qonnx(model, x, tmp_path / "abc.onnx")
    assert report.argmax_agreement == 1.0
    assert report.max_abs_diff <= 1e-4
    # independent re-execution of the written file
    reference = model(x).detach().numpy()
    produced = qonnx_export.execute_qonnx(ModelWrapper(str(tmp_path / "abc.onnx")), x.numpy())
    assert np.array_equal(produced.argmax(1), reference.argmax(1))
    assert np.abs(produced - reference).max() <= 1e-4
    # two float layers (first, last) plus M*N binary branches in each of the two ABC layers
    branches = num_weight_bases * (num_act_bases or 1)
    assert report.op_types.count("Conv") + report.op_types.count("Gemm") == 2 + 2 * branches
    assert "BipolarQuant" in report.op_types


def test_export_form_has_m_times_n_binary_branches(trained_mnist_cnn):
    model = convert(_swapped(trained_mnist_cnn, 3, 2, "per_channel"))
    layers = [m for m in model.modules() if isinstance(m, ABCExportLayer)]
    assert len(layers) == 2
    for layer in layers:
        assert len(layer.weight_branches) == 3 and len(layer.act_branches) == 2 and len(layer.scales) == 6
        for branch in layer.weight_branches:
            assert set(branch.quant_weight().value.unique().tolist()) <= {-1.0, 1.0}


def test_convert_does_not_touch_the_trained_model(trained_mnist_cnn):
    model = _swapped(trained_mnist_cnn, 2, 1, "per_tensor")
    before = copy.deepcopy(model.state_dict())
    convert(model)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_float_model_exports_unchanged(tmp_path, trained_mnist_cnn, mnist_test_batch):
    report = export_qonnx(trained_mnist_cnn, mnist_test_batch[0], tmp_path / "float.onnx")
    assert "BipolarQuant" not in report.op_types and report.max_abs_diff <= 1e-4


def test_a_mismatching_graph_is_reported_not_hidden(tmp_path, trained_mnist_cnn, mnist_test_batch, monkeypatch):
    real_execute = qonnx_export.execute_qonnx
    monkeypatch.setattr(qonnx_export, "execute_qonnx", lambda wrapper, inputs: real_execute(wrapper, inputs) + 1e-3)
    model = _swapped(trained_mnist_cnn, 1, 1, "per_tensor")
    with pytest.raises(QONNXMismatchError, match=r"max \|QONNX - PyTorch\| = 0.001"):
        export_qonnx(model, mnist_test_batch[0], tmp_path / "bad.onnx")


@pytest.mark.parametrize("differing, tied, accepted", [
    (1, True, True),     # one of 64 inputs differs, and it has a binarizer input at a float near-tie
    (1, False, False),   # ... but without a near-tie there: something else differs
    (64, True, False),   # every input differs: systematic, whatever the ties
])
def test_differences_are_accepted_only_as_float_near_ties_on_few_inputs(
        tmp_path, trained_mnist_cnn, mnist_test_batch, monkeypatch, differing, tied, accepted):
    real_execute = qonnx_export.execute_qonnx

    def shifted(wrapper, inputs):
        out = real_execute(wrapper, inputs)
        out[:differing] += 1e-3
        return out

    monkeypatch.setattr(qonnx_export, "execute_qonnx", shifted)
    monkeypatch.setattr(qonnx_export, "near_tie_inputs", lambda wrapper, inputs: np.full(len(inputs), tied))
    model = _swapped(trained_mnist_cnn, 1, 1, "per_tensor")
    if accepted:
        with pytest.warns(UserWarning, match="float32 rounding decides the sign"):
            report = export_qonnx(model, mnist_test_batch[0], tmp_path / "tie.onnx")
        assert report.near_tie_inputs == differing and "near-ties" in str(report)
    else:
        with pytest.raises(QONNXMismatchError):
            export_qonnx(model, mnist_test_batch[0], tmp_path / "bad.onnx")


def test_near_tie_inputs_ignores_exact_zeros_and_finds_values_near_the_threshold():
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    node = helper.make_node("BipolarQuant", ["x", "s"], ["y"], domain="qonnx.custom_op.general")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 2])])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("s", np.float32(1.0))
    x = np.array([[0.0, 1.0], [3e-6, -2.0], [-0.5, 0.4]], dtype=np.float32)
    assert qonnx_export.near_tie_inputs(model, x).tolist() == [False, True, False]


def test_export_leaves_the_model_in_its_training_mode(tmp_path, trained_mnist_cnn, mnist_test_batch):
    model = _swapped(trained_mnist_cnn, 1, None, "per_channel").train()
    export_qonnx(model, mnist_test_batch[0], tmp_path / "m.onnx")
    assert model.training


def test_export_report_summarises_op_types_with_counts():
    from pathlib import Path

    ops = ("Conv",) * 200 + ("Add",) * 100 + ("BipolarQuant",) * 60 + ("Gemm",)
    report = qonnx_export.ExportReport(Path("model.onnx"), 8, 0.0, 1.0, ops)
    assert report.op_counts == {"Conv": 200, "Add": 100, "BipolarQuant": 60, "Gemm": 1}
    for text in (str(report), repr(report)):
        assert "361 nodes (Conv x200, Add x100, BipolarQuant x60, Gemm x1)" in text
        assert len(text) < 300  # not one entry per node
