"""The command line: a fast_dev_run of every shipped YAML config through the ``abc-train`` console script (a
subprocess, exit status checked), the staged recipe run stage by stage, and fit -> validate -> test -> predict
through ``cli_main`` and through ``python -m``."""
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from lightning_modules.cli import cli_main
from tests.conftest import CIFAR_TAR
from tests.console_scripts import run_console_script
from tests.lightning_modules.lightning_test_helpers import write_cifar_batches, write_image_folder

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "lightning_modules" / "configs"
SINGLE_RUN_CONFIGS = sorted(p.stem for p in CONFIGS.glob("*.yaml") if "_stage" not in p.stem)
# stage 1 stands alone (stages 2 and 3 read the previous stage's checkpoint: test_staged_recipe_runs_stage_by_stage)
CONSOLE_CONFIGS = SINGLE_RUN_CONFIGS + ["lenet5_mnist_stage1_float"]
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


def write_cifar_jpeg_tree(root: Path, per_class: int) -> Path:
    """``root/<train|test>/<class>/*.jpg``: the first ``per_class`` real CIFAR-10 JPEGs of each class and split
    from ``../shared``'s archive (skips where it is absent)."""
    if not CIFAR_TAR.is_file():
        pytest.skip(f"CIFAR-10 JPEG archive not found at {CIFAR_TAR}")
    counts: dict[tuple[str, str], int] = {}
    with tarfile.open(CIFAR_TAR) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and counts.get((parts[0], parts[1]), 0) < per_class:
                counts[(parts[0], parts[1])] = counts.get((parts[0], parts[1]), 0) + 1
                target = root / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
            if len(counts) == 20 and all(n == per_class for n in counts.values()):
                break
    return root


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


@pytest.fixture(scope="module")
def real_data_root(tmp_path_factory):
    """Real images for the console-script runs: CIFAR-10 JPEGs (8 per class and split; MNIST comes offline from
    the venv) and a 3-class ImageFolder of CIFAR-10 test JPEGs for the forest-trail config."""
    root = tmp_path_factory.mktemp("data")
    write_cifar_jpeg_tree(root / "cifar", per_class=8)
    for label in ("left", "straight", "right"):
        (root / "trails" / label).mkdir(parents=True)
    for k, jpg in enumerate(sorted((root / "cifar" / "test").glob("*/*.jpg"))[:18]):
        (root / "trails" / ("left", "straight", "right")[k % 3] / jpg.name).write_bytes(jpg.read_bytes())
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", CONSOLE_CONFIGS)
def test_console_script_fast_dev_run_exits_0_and_exports(name, real_data_root, tmp_path):
    """``abc-train fit --config <shipped config> --trainer.fast_dev_run=true`` exits 0 (it exited 1 with the
    LightningCLI object as status) after one training step and its end-of-fit verified QONNX export."""
    args = ["fit", "--config", str(CONFIGS / f"{name}.yaml"), "--trainer.fast_dev_run=true",
            *_data_args(name, real_data_root), *SHRINK.get(name, [])]
    result = run_console_script("abc-train", args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    exports = "ExportBestToQONNX" in (CONFIGS / f"{name}.yaml").read_text()
    assert (tmp_path / "outputs" / name / "export" / "model.onnx").exists() == exports


@pytest.mark.slow
def test_console_script_exits_nonzero_on_failure(tmp_path):
    """A config that fails while running (not while parsing) exits 1, a misspelt option 2."""
    bad = run_console_script("abc-train", ["fit", "--config", str(CONFIGS / "lfc_abc_mnist.yaml"),
                                           "--model.num_classes=1", "--trainer.fast_dev_run=true"], cwd=tmp_path)
    assert bad.returncode == 1 and "num_classes=1 must be an int >= 2" in bad.stderr
    misspelt = run_console_script("abc-train", ["fit", "--config", str(CONFIGS / "lfc_abc_mnist.yaml"),
                                                "--model.num_clases=10"], cwd=tmp_path)
    assert misspelt.returncode == 2 and "num_clases" in misspelt.stderr


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


@pytest.mark.slow
def test_python_m_entry_point_exits_0_after_a_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lightning_modules.cli", "fit", "--config",
                             str(CONFIGS / "lenet5_mnist_stage1_float.yaml"), "--trainer.fast_dev_run=true",
                             *_data_args("lenet5_mnist_stage1_float", tmp_path)],
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


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
