"""QONNX export of swapped ABC models executes exactly like PyTorch eval on real MNIST images."""
import copy

import numpy as np
import pytest
import torch
from torch import nn
from qonnx.core.modelwrapper import ModelWrapper

import brevitas_abc.export.qonnx_export as qonnx_export
from brevitas_abc import ABCConfig, QONNXMismatchError, convert, export_qonnx, swap
from brevitas_abc.nn import ABCExportLayer, ABCLinear


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


# every (M, N) pair once, the weight granularity alternating over the grid so that each M and each N is exported with
# both granularities (the full cross product, 32 exports, repeated each pair with the other granularity)
EXPORT_CASES = [(m, n, ("per_tensor", "per_channel")[(i + j) % 2])
                for i, m in enumerate([1, 2, 3, 5]) for j, n in enumerate([1, 3, 5, None])]


@pytest.mark.slow
@pytest.mark.parametrize("num_weight_bases, num_act_bases, granularity", EXPORT_CASES)
def test_qonnx_execution_equals_pytorch_on_real_images(tmp_path, trained_mnist_cnn, mnist_test_batch,
                                                        num_weight_bases, num_act_bases, granularity):
    x, _ = mnist_test_batch
    model = _swapped(trained_mnist_cnn, num_weight_bases, num_act_bases, granularity)
    report = export_qonnx(model, x, tmp_path / "abc.onnx")
    assert report.argmax_agreement == 1.0
    # free float coefficients: a binarizer input within float rounding of its threshold may take the other sign in
    # the graph (a tie, accepted and counted by the layer-by-layer check); every other input agrees to 1e-4
    reference = model(x).detach().numpy()
    produced = qonnx_export.execute_qonnx(ModelWrapper(str(tmp_path / "abc.onnx")), x.numpy())  # independent re-run
    differing = int((np.abs(produced - reference).reshape(len(x), -1).max(axis=1) > 1e-4).sum())
    assert differing <= report.near_tie_inputs <= report.tie_decisions
    assert report.near_tie_inputs > 0 or report.max_abs_diff <= 1e-4
    assert np.array_equal(produced.argmax(1), reference.argmax(1))
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
    real_convert = qonnx_export.convert

    def off_by_1e_3(model):  # the float classifier's bias 1e-3 off in the graph: no binarizer sees it
        converted = real_convert(model)
        converted[-1].bias.data += 1e-3
        return converted

    monkeypatch.setattr(qonnx_export, "convert", off_by_1e_3)
    model = _swapped(trained_mnist_cnn, 1, 1, "per_tensor")
    with pytest.raises(QONNXMismatchError, match=r"max \|QONNX - PyTorch\| = 0.001.*binarizer decisions, differs by 0.001"):
        export_qonnx(model, mnist_test_batch[0], tmp_path / "bad.onnx")


def _convert_with(corrupt):
    """``convert`` followed by ``corrupt(export_layers)`` on the model's ABC export layers, in order."""
    real_convert = qonnx_export.convert

    def wrong_convert(model):
        converted = real_convert(model)
        corrupt([m for m in converted.modules() if isinstance(m, ABCExportLayer)])
        return converted
    return wrong_convert


def _shift_off(layers):
    layers[0].act_branches[0][0].constant += 0.01  # Add(v - 0.5) of the first activation base


def _alpha_off_first(layers):
    layers[0].scales[0].constant *= 1.01


def _alpha_off_last(layers):
    layers[-1].scales[0].constant *= 1.01


@pytest.mark.slow
@pytest.mark.parametrize("images", [slice(7, 8), slice(0, 16)], ids=["image7", "16images"])
@pytest.mark.parametrize("corrupt", [_shift_off, _alpha_off_first, _alpha_off_last],
                         ids=["shift+0.01", "alpha*1.01-first", "alpha*1.01-last"])
def test_a_wrong_export_fails_the_layer_by_layer_check_on_any_input_set(
        tmp_path, trained_mnist_cnn, mnist_test_batch, monkeypatch, corrupt, images):
    model = _swapped(trained_mnist_cnn, 2, 2, "per_channel")
    x = mnist_test_batch[0][images]
    monkeypatch.setattr(qonnx_export, "convert", _convert_with(corrupt))
    with pytest.raises(QONNXMismatchError, match="binarizer|output, computed from PyTorch's binarizer decisions"):
        export_qonnx(model, x, tmp_path / "wrong.onnx")


def test_a_tie_decision_is_accepted_counted_and_reported(tmp_path, monkeypatch):
    """A binarizer input exactly at its threshold in PyTorch, one float32 step below it in the graph (as a
    different summation order would leave it): the graph's sign differs there only, and that is accepted."""
    torch.manual_seed(0)
    layer = ABCLinear(4, 3, num_weight_bases=1, num_act_bases=1, act_shifts=(0.25,)).eval()
    x = torch.tensor([[0.25, 0.9, -0.3, 0.6], [0.1, 0.7, 0.8, -0.2]])  # x[0, 0] + 0.25 - 0.5 == 0 exactly
    below = np.nextafter(np.float32(-0.25), np.float32(-1.0))
    monkeypatch.setattr(qonnx_export, "convert", _convert_with(
        lambda layers: layers[0].act_branches[0][0].constant.fill_(float(below))))
    with pytest.warns(UserWarning, match=r"1 binarizer decision\(s\) differently"):
        report = export_qonnx(layer, x, tmp_path / "tie.onnx")
    assert report.tie_decisions == 1 and report.near_tie_inputs == 1 and report.binarizers_checked == 1
    assert report.max_abs_diff > 1e-4 and "1 binarizer decision(s) at float near-ties" in str(report)
    # the same step applied to a value away from the threshold is not a tie
    monkeypatch.setattr(qonnx_export, "convert", _convert_with(
        lambda layers: layers[0].act_branches[0][0].constant.fill_(-0.25 - 0.2)))
    with pytest.raises(QONNXMismatchError, match="binarizer 0 .* differs from PyTorch's by up to 0.2"):
        export_qonnx(layer, x, tmp_path / "wrong.onnx")


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


def test_binarizers_pair_up_whatever_the_graph_order(tmp_path, mnist_test_batch):
    """A base with v = 0.5 has no Add node, so its BipolarQuant can come before the other bases' in the graph:
    the check pairs each graph binarizer with PyTorch's by input, not by position (it refused this export)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), ABCLinear(784, 16, num_weight_bases=2, num_act_bases=3,
                                                   act_shifts=(0.1, 0.5, -0.2)),
                          nn.BatchNorm1d(16), ABCLinear(16, 10, num_weight_bases=2, num_act_bases=3,
                                                        act_shifts=(-0.3, 0.2, 0.5))).eval()
    report = export_qonnx(model, mnist_test_batch[0][:16], tmp_path / "order.onnx")
    assert report.binarizers_checked == 6 and report.argmax_agreement == 1.0


def test_an_input_quantiser_behind_a_normalisation_keeps_the_layer_by_layer_check(tmp_path, mnist_test_batch,
                                                                                   monkeypatch):
    """An 8-bit input quantiser reading a normalised input (a computed value, as when finn_flow puts the
    preprocessing in front) used to make the check fall back to whole outputs; where no input lies within its
    rounding bound of a rounding boundary it gives PyTorch's integers, and the binarizers behind it are checked."""
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat

    from brevitas_abc.export import layer_check
    from brevitas_abc.nn.constant_ops import AddConstant, MulConstant

    torch.manual_seed(0)
    model = nn.Sequential(MulConstant(torch.tensor(1 / 0.3081)), AddConstant(torch.tensor(-0.1307 / 0.3081)),
                          QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False),
                          nn.Flatten(), ABCLinear(784, 16, num_weight_bases=2, num_act_bases=2),
                          nn.BatchNorm1d(16), ABCLinear(16, 10, num_weight_bases=2, num_act_bases=2)).eval()
    images = mnist_test_batch[0][:16]
    assert export_qonnx(model, images, tmp_path / "normalised.onnx").binarizers_checked == 4
    # the rule is what keeps it: without it (and without the comparison with PyTorch's quantiser, the next test)
    # the Quant's output has no bound and the check falls back
    monkeypatch.setattr(layer_check._AbsoluteProgram, "_rounds_alike", lambda self, node, context: False)
    monkeypatch.setattr(layer_check, "_quantizer_ties", lambda *args: None)
    assert export_qonnx(model, images, tmp_path / "fallback.onnx").binarizers_checked == 0


def test_an_input_quantiser_element_near_a_rounding_boundary_is_checked_against_pytorchs_quantiser(
        tmp_path, mnist_test_batch, monkeypatch):
    """A pixel whose normalised value lies on a rounding boundary of the 8-bit input quantiser (within float32
    rounding): PyTorch and the graph may round it differently, so the rule above gives no bound. The check then
    compares the graph's quantiser with PyTorch's (one step apart at such elements only), feeds PyTorch's values on,
    and the binarizers behind it are still checked."""
    from brevitas.nn import QuantIdentity
    from brevitas.quant import Int8ActPerTensorFloat

    from brevitas_abc.export import layer_check
    from brevitas_abc.nn.constant_ops import AddConstant, MulConstant

    torch.manual_seed(0)
    a, b = 1 / 0.3081, -0.1307 / 0.3081
    model = nn.Sequential(MulConstant(torch.tensor(a)), AddConstant(torch.tensor(b)),
                          QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=8, return_quant_tensor=False),
                          nn.Flatten(), ABCLinear(784, 16, num_weight_bases=2, num_act_bases=2),
                          nn.BatchNorm1d(16), ABCLinear(16, 10, num_weight_bases=2, num_act_bases=2)).eval()
    scale = float(model[2].act_quant(torch.zeros(1)).scale)  # the proxy returns a QuantTensor
    images = mnist_test_batch[0][:4].clone()
    images[:, 0, 0, 0] = float((40.5 * scale - b) / a)  # x * a + b = 40.5 steps, up to float32 rounding
    program_near = []
    real_near = layer_check._AbsoluteProgram.near_boundary

    def spy(self, node, context):
        near = real_near(self, node, context)
        program_near.append(None if near is None else int(near.sum()))
        return near

    monkeypatch.setattr(layer_check._AbsoluteProgram, "near_boundary", spy)
    report = export_qonnx(model, images, tmp_path / "boundary.onnx")
    assert 4 in program_near  # one element per image is near its boundary: the rule alone would give no bound
    assert report.binarizers_checked == 4 and report.argmax_agreement == 1.0
    # without the quantiser comparison the check falls back to whole outputs
    monkeypatch.setattr(layer_check, "_quantizer_ties", lambda *args: None)
    assert export_qonnx(model, images, tmp_path / "fallback.onnx").binarizers_checked == 0
