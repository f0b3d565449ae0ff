"""Model zoo: registry, published parameter counts, shapes, swap into every family from the float weights,
and verified QONNX export of swapped zoo models on real MNIST / CIFAR-10 images."""

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.conftest import cifar_normalised

from brevitas_abc.export import export_qonnx
from brevitas_abc.models import UnknownModelError, create_model, list_models
from brevitas_abc.nn.abc.layers import ABCConv2d, ABCLinear
from brevitas_abc.nn.exact_batchnorm import use_exact_batchnorm
from brevitas_abc.nn.group_net.layers import GroupNetConv2d, GroupNetLinear
from brevitas_abc.nn.lbc.fused import FusedLBConv2d
from brevitas_abc.nn.lbc.layers import LBConv2d
from brevitas_abc.swap import ABCConfig
from brevitas_abc.swap.group_net_config import GroupNetConfig
from brevitas_abc.swap.group_net_handler import layer_candidates  # noqa: F401 - registers the handlers
from brevitas_abc.swap.lbc_config import LBCConfig
from brevitas_abc.swap.lbc_handler import lbc_candidates  # noqa: F401 - registers the handler
from brevitas_abc.swap.registry import SwapError, swap
from lightning_modules.data import load_mnist


PUBLISHED_PARAMETERS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                        "densenet121": 7_978_856}

# input shape per model (ImageNet-layout models at 64x64 so that tests stay fast; the nets are size-agnostic)
INPUT_SHAPES = {
    "lenet5": (1, 28, 28), "alexnet_mnist": (1, 28, 28), "vgg16_mnist": (1, 28, 28), "lfc": (1, 28, 28),
    "tfc": (1, 28, 28), "cnv": (3, 32, 32), "forest_trail_vgg": (3, 101, 101), "resnet18": (3, 64, 64),
    "resnet34": (3, 64, 64), "resnet50": (3, 64, 64), "resnet18_cifar": (3, 32, 32),
    "resnet34_cifar": (3, 32, 32), "resnet50_cifar": (3, 32, 32), "densenet121": (3, 64, 64),
    "densenet_bc_cifar": (3, 32, 32), "densenet_bc_cifar_integer": (3, 32, 32), "resnet18_bpac_seg": (3, 32, 32), "lfc_seq": (1, 28, 28),
    "lenet5_seq": (1, 28, 28), "cnv_seq": (3, 32, 32), "lfc_brevitas_w1a1": (1, 28, 28)}
HEAVY = {"resnet18", "resnet18_cifar", "resnet34", "resnet50", "densenet121", "resnet34_cifar", "resnet50_cifar",
         "alexnet_mnist", "lfc", "lfc_seq"}
# stock Brevitas layers / an integer form already: not a float model to swap
BREVITAS = {"lfc_brevitas_w1a1", "densenet_bc_cifar_integer"}


def mnist_batch(n: int = 20) -> torch.Tensor:
    images, _ = load_mnist("test")
    return (torch.as_tensor(images[:n]).float() / 255 - 0.1307).div(0.3081).unsqueeze(1)


def cifar_batch(per_class: int = 2) -> torch.Tensor:
    return cifar_normalised(per_class)


@pytest.fixture(scope="module")
def cifar():
    return cifar_batch()


def calibrate(model: nn.Module, images: torch.Tensor) -> nn.Module:
    """Running BN statistics from real images, bit-exact BatchNorm (signs follow them), eval mode."""
    use_exact_batchnorm(model)
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None
    with torch.no_grad():
        model(images)
    return model.eval()


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMETERS))
def test_float_parameter_counts_equal_the_published_ones(name):
    assert num_params(create_model(name)) == PUBLISHED_PARAMETERS[name]


def test_list_models_and_unknown_names():
    assert set(list_models()) == set(INPUT_SHAPES)
    assert list_models("resnet5*") == ["resnet50", "resnet50_cifar"]
    with pytest.raises(UnknownModelError,
                       match=r"model name 'resnet19' is not allowed: expected one of \[.*'resnet18'"):
        create_model("resnet19")
    assert list_models("local_*") == [] and list_models("local_*", include_aliases=True) == [
        "local_cnv", "local_lenet5", "local_lfc"]
    with pytest.raises(ValueError, match=r"lbc='half' is not allowed: expected one of \('none', 'full', 'fused'\)"):
        create_model("densenet_bc_cifar", lbc="half")


@pytest.mark.parametrize("name", sorted(INPUT_SHAPES))
def test_every_model_runs_on_its_input_size(name):
    model = create_model(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, *INPUT_SHAPES[name]))
    assert out.shape[0] == 2 and torch.isfinite(out).all()


def _float_weight_of(float_model: nn.Module, name: str) -> torch.Tensor:
    return float_model.get_submodule(name).weight


@pytest.mark.parametrize("config", [
    ABCConfig(num_weight_bases=2, num_act_bases=2), LBCConfig(num_anchors=8, density=0.5),
    GroupNetConfig(num_bases=2, mode="layer")], ids=["abc", "lbc", "groupnet-layer"])
@pytest.mark.parametrize("name", [n for n in sorted(INPUT_SHAPES) if n not in HEAVY | BREVITAS])
def test_every_light_zoo_model_swaps_from_its_float_weights(name, config):
    check_swap_from_float(name, config)


@pytest.mark.slow
@pytest.mark.parametrize("config", [
    ABCConfig(num_weight_bases=2, num_act_bases=2), LBCConfig(num_anchors=8, density=0.5),
    GroupNetConfig(num_bases=2, mode="layer")], ids=["abc", "lbc", "groupnet-layer"])
@pytest.mark.parametrize("name", sorted(HEAVY))
def test_every_heavy_zoo_model_swaps_from_its_float_weights(name, config):
    check_swap_from_float(name, config)


def check_swap_from_float(name, config):
    torch.manual_seed(0)
    float_model = create_model(name).eval()
    swapped = create_model(name)
    swapped.load_state_dict(float_model.state_dict())
    if name in ("lfc", "tfc", "lfc_seq") and isinstance(config, LBCConfig):
        with pytest.raises(SwapError, match=r"swap found nothing to replace in (FC|Sequential): it has no plain "
                                            r".*nn.Conv2d"):
            swap(swapped, config, verbose=False)  # an MLP has no spatial convolution for LBC to replace
        return
    swapped = swap(swapped, config, verbose=False).eval()
    replaced = [(n, m) for n, m in swapped.named_modules()
                if isinstance(m, (ABCConv2d, ABCLinear, LBConv2d, GroupNetConv2d, GroupNetLinear))]
    assert replaced
    for qualified, module in replaced:
        source = float_model.get_submodule(qualified)
        if isinstance(module, (ABCConv2d, ABCLinear)):
            assert torch.equal(module.weight, source.weight)
        elif isinstance(module, (GroupNetConv2d, GroupNetLinear)):
            assert torch.equal(module.branches[0].weight, source.weight)
        else:
            if source.bias is not None:
                assert torch.equal(module.bias, source.bias)
            expected = source.weight.flatten(1).double() @ torch.linalg.pinv(module.anchors.flatten(1).double())
            assert torch.allclose(module.pointwise.weight.flatten(1).double(), expected, atol=1e-4)
    with torch.no_grad():
        assert torch.isfinite(swapped(torch.randn(2, *INPUT_SHAPES[name]))).all()


def test_densenet_lbc_variants():
    learned = {}
    for lbc in ("none", "fused", "full"):
        kwargs = {} if lbc == "none" else dict(num_anchors=64, density=0.5)
        model = create_model("densenet_bc_cifar", lbc=lbc, **kwargs)
        learned[lbc] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        conv2 = [layer.conv2 for name, layer in model.named_modules() if name.endswith("denselayer1")]
        expected = {"none": nn.Conv2d, "fused": FusedLBConv2d, "full": LBConv2d}[lbc]
        assert conv2 and all(type(c) is expected for c in conv2)
    assert learned["none"] > learned["fused"] > learned["full"]
    seeds = [m.seed for m in create_model("densenet_bc_cifar", lbc="full", num_anchors=8).modules()
             if isinstance(m, LBConv2d)]
    assert len(set(seeds)) == len(seeds) == 18  # one distinct seed per dense layer (depth 40: 3 x 6 layers)


@pytest.mark.parametrize("lbc", ["full", "fused"])
def test_densenet_lbc_export_matches_pytorch_on_cifar(tmp_path, cifar, lbc):
    torch.manual_seed(0)
    model = calibrate(create_model("densenet_bc_cifar", depth=10, growth_rate=8, lbc=lbc, num_anchors=16), cifar)
    report = export_qonnx(model, cifar, tmp_path / f"densenet_{lbc}.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0


@pytest.mark.parametrize("name", ["lenet5", "tfc"])
def test_abc_zoo_model_export_matches_pytorch_on_mnist(tmp_path, name):
    torch.manual_seed(0)
    images = mnist_batch()
    model = create_model(name, config=ABCConfig(num_weight_bases=3, num_act_bases=3))
    report = export_qonnx(calibrate(model, images), images, tmp_path / f"{name}.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0
    assert "BipolarQuant" in report.op_types


def test_group_net_layer_wise_tfc_export_matches_pytorch_on_mnist(tmp_path):
    torch.manual_seed(0)
    images = mnist_batch()
    model = create_model("tfc", config=GroupNetConfig(num_bases=3, mode="layer"))
    assert sum(isinstance(m, GroupNetLinear) for m in model.modules()) == 2  # first and last kept float
    report = export_qonnx(calibrate(model, images), images, tmp_path / "tfc_groupnet.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0
    assert "BipolarQuant" in report.op_types


def test_abc_cnv_export_matches_pytorch_on_cifar(tmp_path, cifar):
    # explicit shifts: the "centered" default puts the N=2 thresholds at exactly 0 and 1 of the ReLU outputs the
    # zoo CNV keeps before each ABC layer, where float32 near-ties (|x - 1| ~ 1e-6 after the float first conv)
    # flip between PyTorch's and ONNX's convolution summation orders; this test is about the graph, not ties
    torch.manual_seed(0)
    model = create_model("cnv", config=ABCConfig(num_weight_bases=2, num_act_bases=2, act_shifts=(-0.31, 0.21)))
    report = export_qonnx(calibrate(model, cifar), cifar, tmp_path / "cnv.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0


def test_abc_cnv_default_shifts_export_differs_only_at_float_near_ties(tmp_path, cifar):
    # the default shifts' thresholds 0 and 1 sit where this untrained net has values within 1e-6 of them: an
    # input whose logits differ is accepted only if a binarizer input there is within float rounding of 0
    torch.manual_seed(0)
    model = create_model("cnv", config=ABCConfig(num_weight_bases=2, num_act_bases=2))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        report = export_qonnx(calibrate(model, cifar), cifar, tmp_path / "cnv.onnx", atol=1e-4)
    assert report.binarizers_checked == 2 * 7  # every ABC layer's 2 activation bases, checked layer by layer
    assert report.max_abs_diff <= 1e-4 or report.tie_decisions >= report.near_tie_inputs >= 1, str(report)


def test_lbc_forest_trail_export_matches_pytorch_on_real_images(tmp_path, cifar):
    torch.manual_seed(0)
    frames = F.interpolate(cifar, size=(101, 101), mode="bilinear", align_corners=False)  # real images, 101x101
    model = create_model("forest_trail_vgg", width=0.25, config=LBCConfig(num_anchors=16, density=0.3))
    report = export_qonnx(calibrate(model, frames), frames, tmp_path / "forest.onnx", atol=1e-4)
    assert report.max_abs_diff <= 1e-4 and report.argmax_agreement == 1.0


@pytest.mark.parametrize("alias, name", [("local_lfc", "lfc_seq"), ("local_lenet5", "lenet5_seq"),
                                         ("local_cnv", "cnv_seq")])
def test_local_names_are_aliases_whose_state_dicts_load_into_the_zoo_entry(alias, name):
    torch.manual_seed(0)
    old = create_model(alias, width=0.25)
    new = create_model(name, width=0.25)
    assert isinstance(old, nn.Sequential) and repr(old) == repr(new)
    new.load_state_dict(old.state_dict(), strict=True)   # checkpoints saved under the old name load


def test_stock_brevitas_baselines_live_in_the_zoo_module():
    from brevitas.nn import QuantConv2d, QuantLinear

    from benchmarks.training import brevitas_quantized as benchmark_import
    from brevitas_abc.models.brevitas_baselines import brevitas_quantized
    from lightning_modules.models import lfc_brevitas_w1a1

    assert benchmark_import is brevitas_quantized
    assert repr(lfc_brevitas_w1a1()) == repr(create_model("lfc_brevitas_w1a1"))
    model = brevitas_quantized(create_model("cnv_seq", width=0.125), weight_bits=1, act_bits=2)
    assert sum(isinstance(m, (QuantConv2d, QuantLinear)) for m in model) == 9
    with pytest.raises(ValueError, match=r"weight_bits=5 is not allowed: expected one of 1, 2, 3, 4, 8"):
        brevitas_quantized(create_model("cnv_seq"), weight_bits=5, act_bits=2)


def test_stock_two_bit_weights_with_mse_scaling_keep_most_weights_nonzero():
    """The W2 baseline's ``weight_scaling``: per-tensor "max" puts most normally distributed weights on 0 at 2 bits,
    per-channel "mse" has a smaller squared error (the fair baseline beside ABC's least-squares alphas)."""
    from brevitas.nn import QuantConv2d

    from brevitas_abc.models.brevitas_baselines import brevitas_quantized

    torch.manual_seed(0)
    float_model = nn.Sequential(nn.Conv2d(16, 32, 3, bias=False))
    weight = torch.randn(32, 16, 3, 3) * 0.05
    errors, zeros = {}, {}
    for scaling in ("max", "mse"):
        conv = next(m for m in brevitas_quantized(float_model, 2, 2, weight_scaling=scaling)
                    if isinstance(m, QuantConv2d))
        conv.weight.data.copy_(weight)
        q = conv.quant_weight().value.detach()
        errors[scaling] = float(((q - weight) ** 2).sum() / (weight ** 2).sum())
        zeros[scaling] = float((q == 0).float().mean())
    assert zeros["max"] > 0.7 and zeros["mse"] < 0.6, zeros
    assert errors["mse"] < 0.5 * errors["max"], errors
    with pytest.raises(ValueError, match=r"weight_scaling='minmax' is not allowed: expected one of \('max', 'mse'\)"):
        brevitas_quantized(float_model, 2, 2, weight_scaling="minmax")
