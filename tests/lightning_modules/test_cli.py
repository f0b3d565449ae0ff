"""The command line: a fast_dev_run of every shipped YAML config, the staged recipe run stage by stage,
and fit -> validate -> test -> predict through ``cli_main`` and through ``python -m``."""
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_modules.cli import cli_main
from tests.lightning_modules.lightning_test_helpers import write_cifar_batches, write_image_folder

CONFIGS = Path(__file__).resolve().parents[2] / "lightning_modules" / "configs"
SINGLE_RUN_CONFIGS = sorted(p.stem for p in CONFIGS.glob("*.yaml") if "_stage" not in p.stem)
# Smaller versions of the big networks keep the test quick; the layer types and the export are the same.
# The QONNX check executes the exported graph node by node, so fewer bases (fewer branch nodes) matter most.
SHRINK = {
    "resnet18_abc_cifar10": ['--model.model.init_args.arch_kwargs={"width": 8}',
                             "--model.model.init_args.abc.num_weight_bases=1", "--model.model.init_args.abc.num_act_bases=1"],
    "groupnet_resnet18_cifar10": ['--model.model.init_args.arch_kwargs={"width": 8}',
                                  '--model.model.init_args.group_net={"num_bases": 2, "mode": "group"}'],
    "lbc_densenet_cifar10": ['--model.model.init_args.arch_kwargs={"depth": 10}'],
    "forest_trail_abc_imagefolder": ['--model.model.init_args.arch_kwargs={"width": 0.25}',
                                     "--model.model.init_args.abc.num_weight_bases=1",
                                     "--model.model.init_args.abc.num_act_bases=1"],
}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in a temporary folder (configs write under ./outputs) with a tiny CIFAR-10 in the official format."""
    monkeypatch.chdir(tmp_path)
    write_cifar_batches(tmp_path / "cifar", per_batch=20)
    write_image_folder(tmp_path / "trails", ["left", "straight", "right"], per_class=6, size=(24, 24))
    return tmp_path


def _data_args(name: str, root: Path) -> list[str]:
    args = ["--data.init_args.batch_size=8", "--trainer.enable_progress_bar=false"]
    if "cifar" in name:
        args += [f"--data.init_args.root={root / 'cifar'}", "--data.init_args.download=false",
                 "--data.init_args.val_size=20"]
    if "imagefolder" in name:
        args += [f"--data.init_args.train_dir={root / 'trails'}"]
    return args


def test_every_config_is_tested():
    assert {"lfc_abc_mnist", "lenet5_abc_mnist", "cnv_abc_cifar10", "resnet18_abc_cifar10", "lbc_densenet_cifar10",
            "groupnet_resnet18_cifar10"} <= set(SINGLE_RUN_CONFIGS)


@pytest.mark.parametrize("name", SINGLE_RUN_CONFIGS)
def test_config_fast_dev_run_and_export(name, in_tmp):
    args = ["fit", "--config", str(CONFIGS / f"{name}.yaml"), "--trainer.fast_dev_run=1", *_data_args(name, in_tmp)]
    args += SHRINK.get(name, [])
    cli = cli_main(args)
    assert cli.trainer.state.finished and cli.trainer.global_step == 1
    assert (in_tmp / "outputs" / name / "export" / "model.onnx").exists()


@pytest.mark.slow
def test_staged_recipe_runs_stage_by_stage(in_tmp):
    limits = ["--trainer.max_steps=3", "--trainer.limit_val_batches=2", "--data.init_args.train_subset=256",
              "--trainer.enable_progress_bar=false", "--data.init_args.batch_size=32"]
    for stage in ("lenet5_mnist_stage1_float", "lenet5_mnist_stage2_abc_weights", "lenet5_mnist_stage3_abc_full"):
        cli = cli_main(["fit", "--config", str(CONFIGS / f"{stage}.yaml"), *limits])
        assert (in_tmp / "outputs" / stage / "checkpoints" / "last.ckpt").exists()
    module = cli.model
    assert module.teacher is not None and "train_kd" in cli.trainer.callback_metrics
    assert any(type(m).__name__ == "ABCConv2d" and m.input_quant is not None for m in module.model.modules())


def test_fit_then_validate_test_predict_from_checkpoint(in_tmp):
    config = ["--config", str(CONFIGS / "lenet5_abc_mnist.yaml"), "--trainer.enable_progress_bar=false",
              "--data.init_args.batch_size=64", "--data.init_args.train_subset=1024", "--data.init_args.test_subset=128"]
    cli_main(["fit", *config, "--trainer.max_epochs=1", "--trainer.limit_val_batches=2",
              "--model.optimizer.init_args.lr=0.01"])
    ckpt = in_tmp / "outputs" / "lenet5_abc_mnist" / "checkpoints" / "last.ckpt"
    assert ckpt.exists() and (in_tmp / "outputs" / "lenet5_abc_mnist" / "logs" / "version_0" / "metrics.csv").exists()
    validated = cli_main(["validate", *config, f"--ckpt_path={ckpt}", "--trainer.limit_val_batches=2"])
    assert 0.0 <= float(validated.trainer.callback_metrics["val_acc1"]) <= 1.0
    tested = cli_main(["test", *config, f"--ckpt_path={ckpt}"])
    assert float(tested.trainer.callback_metrics["test_acc1"]) > 0.3  # 16 steps of ABC LeNet-5 on real MNIST
    predicted = cli_main(["predict", *config, f"--ckpt_path={ckpt}", "--trainer.limit_predict_batches=1"])
    assert predicted.trainer.predict_loop.predictions[0].shape == (64, 10)


def test_python_m_entry_point_prints_help():
    result = subprocess.run([sys.executable, "-m", "lightning_modules.cli", "fit", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "--model.optimizer" in result.stdout and "--data" in result.stdout


def test_bad_config_values_name_the_argument(in_tmp, capsys):
    with pytest.raises(ValueError, match="num_classes=1 must be an int >= 2"):
        cli_main(["fit", "--config", str(CONFIGS / "lfc_abc_mnist.yaml"), "--model.num_classes=1",
                  "--trainer.fast_dev_run=1"])
    with pytest.raises(SystemExit):  # a misspelt option is rejected by the parser, which names it
        cli_main(["fit", "--config", str(CONFIGS / "lfc_abc_mnist.yaml"), "--model.num_clases=10"])
    assert "num_clases" in capsys.readouterr().err
