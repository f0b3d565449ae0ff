"""``abc-build`` from an ``abc-train`` checkpoint: the saved config rebuilds the model, the checkpoint fills it,
and the build verifies every stage against that trained model on real MNIST test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import finn_flow
from finn_flow.cli import main as abc_build
from lightning_modules.cli import cli_main
from lightning_modules.data import load_mnist

from .build_checks import assert_every_stage_exact

pytestmark = pytest.mark.finn
CONFIG = Path(__file__).resolve().parents[2] / "lightning_modules" / "configs" / "lfc_abc_mnist.yaml"
ABC = "--model.model.init_args.abc."


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """LFC-ABC(2,2) at width 1/16, integer coefficients, every layer ABC, 4 steps of abc-train fit on real MNIST."""
    root = tmp_path_factory.mktemp("abc_train")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # the config writes under ./outputs
        cli_main(["fit", "--config", str(CONFIG), "--model.model.init_args.arch=local_lfc",
                  '--model.model.init_args.arch_kwargs={"width": 0.0625}', f"{ABC}num_weight_bases=2",
                  f"{ABC}num_act_bases=2", f"{ABC}keep_first=false", f"{ABC}keep_last=false",
                  f"{ABC}coefficient_bits=3", "--trainer.max_steps=4", "--trainer.limit_val_batches=1",
                  "--data.init_args.train_subset=512", "--data.init_args.batch_size=64",
                  "--trainer.enable_progress_bar=false"])
    run = root / "outputs" / "lfc_abc_mnist"
    return run / "checkpoints" / "last.ckpt", run / "logs" / "version_0" / "config.yaml"


def test_abc_build_from_a_checkpoint_and_its_saved_config(trained_run, tmp_path, capsys):
    ckpt, config = trained_run
    images, _ = load_mnist("test")
    np.save(tmp_path / "images.npy", images[:50, None])
    code = abc_build([str(ckpt), str(tmp_path / "build"), "--config", str(config), "--verify-npy",
                      str(tmp_path / "images.npy"), "--target-fps", "1000", "--abc-mapping", "fused", "--no-codegen"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    for stage in ("qonnx", "streamlined", "hw_layers", "folded"):
        assert f"verified {stage}: 50 images, argmax agreement 100.0 %, max abs diff 0\n" in printed, printed


def test_a_checkpoint_needs_its_config(trained_run, tmp_path):
    ckpt, _ = trained_run
    with pytest.raises(ValueError, match=r"is a Lightning checkpoint: give config="):
        finn_flow.build(ckpt, tmp_path / "out")
    with pytest.raises(finn_flow.InvalidModelError, match="does not fit the model of config="):
        finn_flow.build(ckpt, tmp_path / "out", config=str(CONFIG), example_input=np.zeros((1, 1, 28, 28)))


def test_the_build_applies_the_preprocessing_recorded_at_training(trained_run, tmp_path):
    """abc-train records the datamodule's mean/std in the checkpoint; the build reads raw uint8 pixels, puts
    ``p * (1/255) / std - mean / std`` in front of the network, and every stage is exact from the raw pixels."""
    import torch

    from finn_flow.preprocessing import with_preprocessing
    from lightning_modules.checkpoint import load_checkpoint

    ckpt, config = trained_run
    recorded = torch.load(ckpt, map_location="cpu", weights_only=False)["preprocessing"]
    assert recorded == {"pixel_scale": 1 / 255, "mean": [0.1307], "std": [0.3081]}  # MNISTDataModule's
    images = load_mnist("test")[0][:30, None]
    result = finn_flow.build(ckpt, tmp_path / "build", config=str(config), verify_inputs=images, target_fps=1000,
                             abc_mapping="fused", codegen=False, summary=False)
    assert_every_stage_exact(result, len(images), max_abs_diff=0.0)
    expected = np.load(tmp_path / "build" / "input" / "verify_expected.npy")
    model = load_checkpoint(ckpt, config)
    pixels = torch.from_numpy(images.astype(np.float32))
    with torch.no_grad():
        normalised = with_preprocessing(model, recorded, channels=1)(pixels).numpy()
        assert np.array_equal(expected, normalised.reshape(len(images), -1))
        assert (model(pixels / 255).argmax(1).numpy() != expected.argmax(1)).any()  # /255 alone is another input
    with pytest.raises(ValueError, match=r"input_scale=0.0039.* conflicts with the preprocessing recorded in"):
        finn_flow.build(ckpt, tmp_path / "other", config=str(config), verify_inputs=images, input_scale=1 / 255)
    with pytest.raises(ValueError, match=r"differs from the preprocessing recorded in"):
        finn_flow.build(ckpt, tmp_path / "other", config=str(config), verify_inputs=images,
                        preprocessing={"pixel_scale": 1 / 255, "mean": [0.5], "std": [0.5]})


def test_a_qonnx_file_exported_with_its_preprocessing_builds_from_raw_pixels(trained_run, tmp_path):
    """export_qonnx(..., preprocessing=...) records mean/std in the graph's metadata; the build of the file inserts
    Mul/Add after the input and verifies every stage from raw uint8 pixels."""
    import torch

    import brevitas_abc
    from finn_flow.preprocessing import onnx_preprocessing, with_preprocessing
    from lightning_modules.checkpoint import load_checkpoint

    ckpt, config = trained_run
    recorded = torch.load(ckpt, map_location="cpu", weights_only=False)["preprocessing"]
    model = load_checkpoint(ckpt, config)
    images = load_mnist("test")[0][:30, None]
    pixels = torch.from_numpy(images.astype(np.float32))
    normalised = (pixels / 255 - 0.1307) / 0.3081
    brevitas_abc.export_qonnx(model, normalised[:1], tmp_path / "model.onnx", preprocessing=recorded)  # FINN: batch 1
    assert onnx_preprocessing(tmp_path / "model.onnx") == recorded
    result = finn_flow.build(tmp_path / "model.onnx", tmp_path / "build", verify_inputs=images, target_fps=1000,
                             abc_mapping="fused", codegen=False, summary=False)
    assert_every_stage_exact(result, len(images), max_abs_diff=0.0)
    expected = np.load(tmp_path / "build" / "input" / "verify_expected.npy")  # the graph itself on raw pixels
    with torch.no_grad():
        reference = with_preprocessing(model, recorded, channels=1)(pixels).numpy().reshape(len(images), -1)
    assert np.abs(expected - reference).max() <= 1e-4 and np.array_equal(expected.argmax(1), reference.argmax(1))
