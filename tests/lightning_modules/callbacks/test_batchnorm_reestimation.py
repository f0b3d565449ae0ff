"""ReestimateBatchNorm: the trained network's BatchNorm statistics recomputed on fixed real batches at the end of an
epoch, the teacher's left alone."""
import copy

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from brevitas_abc.calibration import reestimate_batchnorm
from lightning_modules.callbacks import ReestimateBatchNorm
from lightning_modules.module import ClassificationModule
from tests.conftest import mnist_tensors


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10),
                         nn.BatchNorm1d(10))


def _fit(callbacks, x, y) -> nn.Sequential:
    torch.manual_seed(0)
    student, teacher = _net(), _net()
    teacher_state = copy.deepcopy(teacher.state_dict())
    module = ClassificationModule(student, optimizer=lambda p: torch.optim.SGD(p, lr=0.5), teacher=teacher)
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1, callbacks=callbacks)
    trainer.fit(module, DataLoader(TensorDataset(x * 3 + 1, y), batch_size=16))  # trains on shifted inputs
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in teacher_state.items())  # teacher untouched
    return student


def test_statistics_after_fit_are_those_of_the_batches_not_of_training():
    x, y = mnist_tensors("train", 96)
    batches = [x[:48], x[48:]]
    student = _fit([ReestimateBatchNorm(batches)], x, y)
    expected = copy.deepcopy(student)
    reestimate_batchnorm(expected, batches)
    for got, want in zip((student[1], student[5]), (expected[1], expected[5])):
        assert torch.allclose(got.running_mean, want.running_mean) and torch.allclose(got.running_var, want.running_var)
    plain = _fit([], x, y)  # without the callback: the momentum average of the shifted training batches
    assert not torch.allclose(plain[1].running_mean, expected[1].running_mean, atol=0.1)


def test_empty_batches_are_refused():
    with pytest.raises(ValueError, match="non-empty sequence of input tensors"):
        ReestimateBatchNorm([])
