"""Callbacks: clipping bounds only binary layers' latent weights; statistics reach the logger; the
best checkpoint is exported to QONNX and executes like PyTorch."""
import csv

import brevitas_abc
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger
from torch import nn

from lightning_modules.callbacks import ExportBestToQONNX, LatentWeightClipping, QuantStatsLogger, collect_quant_stats
from lightning_modules.module import ClassificationModule
from tests.lightning_modules.lightning_test_helpers import digits_loaders, quiet_trainer


def abc_mlp(num_act_bases=3) -> nn.Sequential:
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32),
                          nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    return brevitas_abc.swap(model, brevitas_abc.ABCConfig(num_weight_bases=3, num_act_bases=num_act_bases), verbose=False)


def adam(params):
    return torch.optim.Adam(params, lr=1e-2)


def test_clipping_bounds_binary_layers_only():
    pl.seed_everything(0)
    train, _ = digits_loaders()
    module = ClassificationModule(abc_mlp(), optimizer=adam)
    with torch.no_grad():
        module.model[4].weight[0, 0] = 5.0   # ABC layer
        module.model[1].weight[0, 0] = 5.0   # float first layer
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2, callbacks=[LatentWeightClipping(1.0)])
    trainer.fit(module, train)
    assert module.model[4].weight.abs().max() <= 1.0
    assert module.model[1].weight[0, 0] > 4.0


def test_clipping_warns_without_binary_layer():
    train, _ = digits_loaders()
    module = ClassificationModule(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), optimizer=adam)
    with pytest.warns(UserWarning, match="no binary layer"):
        quiet_trainer(max_epochs=1, limit_train_batches=1, callbacks=[LatentWeightClipping()]).fit(module, train)
    with pytest.raises(ValueError, match="clip_value=0"):
        LatentWeightClipping(0)


def test_quant_stats_has_alpha_beta_shifts_and_reaches_csv(tmp_path):
    model = abc_mlp()
    stats = collect_quant_stats(model)
    assert {"4.input_quant.betas[0]", "4.input_quant.shifts[2]", "4.weight_quant.alpha[1]",
            "4.weight_quant.shifts[0]"} <= set(stats)
    model.register_buffer("gate", torch.tensor([0.25]))  # a Group-Net-style gate is found by its name
    assert collect_quant_stats(model)["gate[0]"] == 0.25
    train, _ = digits_loaders()
    trainer = quiet_trainer(max_epochs=2, limit_train_batches=2, logger=CSVLogger(tmp_path, name="run"),
                            callbacks=[QuantStatsLogger()])
    trainer.fit(ClassificationModule(abc_mlp(), optimizer=adam), train)
    with open(tmp_path / "run" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    values = [r["quant/model.4.input_quant.betas[0]"] for r in rows if r.get("quant/model.4.input_quant.betas[0]")]
    assert len(values) == 2 and values[0] != values[1]  # logged each epoch, and the betas train


@pytest.mark.slow
def test_best_checkpoint_exported_to_qonnx_and_checked(tmp_path):
    pl.seed_everything(0)
    train, val = digits_loaders()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="val_acc1", mode="max")
    export = ExportBestToQONNX(dirpath=str(tmp_path / "export"), num_examples=16)
    trainer = quiet_trainer(max_epochs=2, limit_train_batches=4, callbacks=[checkpoint, export],
                            enable_checkpointing=True)
    trainer.fit(ClassificationModule(abc_mlp(), optimizer=adam), train, val)
    assert export.checkpoint_used == checkpoint.best_model_path != ""
    assert (tmp_path / "export" / "model.onnx").exists()
    assert export.report.max_abs_diff <= 1e-4 and export.report.argmax_agreement == 1.0


def test_module_warns_when_binary_layers_train_without_clipping():
    train, _ = digits_loaders()
    with pytest.warns(UserWarning, match="no LatentWeightClipping"):
        quiet_trainer(max_epochs=1, limit_train_batches=1).fit(ClassificationModule(abc_mlp(), optimizer=adam), train)


def test_size_summary_logs_compression(tmp_path):
    from lightning_modules.callbacks import ModelSizeSummary

    train, _ = digits_loaders()
    size = ModelSizeSummary(print_table=False)
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=1, logger=CSVLogger(tmp_path, name="run"),
                            callbacks=[size, LatentWeightClipping()])
    trainer.fit(ClassificationModule(abc_mlp(), optimizer=adam), train)
    with open(tmp_path / "run" / "version_0" / "metrics.csv") as f:
        row = next(r for r in csv.DictReader(f) if r.get("size/compression"))
    # the 32x32 ABC layer stores 3 one-bit bases instead of 32-bit floats: the model shrinks
    assert float(row["size/compression"]) > 1.0
    assert float(row["size/deployed_bytes"]) == pytest.approx(size.summary.deployed_bytes)


@pytest.mark.slow
def test_compiled_kernels_train_like_eager_and_are_switched_off_afterwards():
    from brevitas_abc.function import ste

    from lightning_modules.callbacks import CompiledABCKernels

    class KernelRecorder(pl.Callback):
        def __init__(self):
            self.kernels = []

        def on_train_batch_start(self, *args):
            self.kernels.append(ste._KERNELS["forward"])

    weights, recorders = [], []
    for callbacks in ([], [CompiledABCKernels()]):
        pl.seed_everything(0)
        train, _ = digits_loaders()
        module = ClassificationModule(abc_mlp(), optimizer=adam)
        recorders.append(KernelRecorder())
        quiet_trainer(max_epochs=1, limit_train_batches=3, callbacks=callbacks + [recorders[-1]]).fit(module, train)
        weights.append(module.model[4].weight.detach().clone())
    assert all(kernel is ste._multi_binary_forward for kernel in recorders[0].kernels)
    assert all(kernel is ste._KERNELS["compiled_forward"] for kernel in recorders[1].kernels)
    assert ste._KERNELS["forward"] is ste._multi_binary_forward  # back to eager after the run
    assert torch.allclose(weights[0], weights[1], atol=1e-5)
