"""ClassificationModule: learns, distils, loads the previous stage, validates its arguments."""
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from lightning_modules.distillation import distillation_loss, load_stage_weights
from lightning_modules.models import build_model
from lightning_modules.module import ClassificationModule
from tests.lightning_modules.lightning_test_helpers import digits_loaders, quiet_trainer


def mlp(hidden: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                         nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, 10))


def adam(params):
    return torch.optim.Adam(params, lr=1e-2)


def test_learns_real_digits_and_logs_top1_top5():
    pl.seed_everything(0)
    train, val = digits_loaders()
    module = ClassificationModule(mlp(), optimizer=adam)
    trainer = quiet_trainer(max_epochs=4)
    trainer.fit(module, train, val)
    metrics = trainer.callback_metrics
    assert metrics["val_acc1"] > 0.8 and metrics["val_acc5"] >= metrics["val_acc1"]
    assert {"train_loss_epoch", "val_loss", "train_acc1"} <= set(metrics)
    assert module.hparams.num_classes == 10 and "model" not in module.hparams


def test_scheduler_is_injected_and_stepped():
    train, _ = digits_loaders()
    module = ClassificationModule(mlp(), optimizer=adam,
                                  lr_scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5))
    trainer = quiet_trainer(max_epochs=2, limit_train_batches=2)
    trainer.fit(module, train)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-2 * 0.25)


def test_distillation_loss_is_zero_for_identical_logits_and_positive_otherwise():
    logits = torch.randn(8, 10)
    assert distillation_loss(logits, logits.clone(), 4.0).abs() < 1e-6
    assert distillation_loss(logits, torch.randn(8, 10), 4.0) > 0


def test_teacher_from_checkpoint_is_frozen_and_used(tmp_path):
    pl.seed_everything(0)
    train, val = digits_loaders()
    float_module = ClassificationModule(mlp(), optimizer=adam)
    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(float_module, train)
    trainer.save_checkpoint(tmp_path / "float.ckpt")
    student = ClassificationModule(mlp(16), optimizer=adam, teacher=mlp(), teacher_checkpoint=str(tmp_path / "float.ckpt"),
                                   distill_weight=0.7)
    for a, b in zip(student.teacher.parameters(), float_module.model.parameters()):
        assert torch.equal(a, b) and not a.requires_grad
    before = [p.clone() for p in student.teacher.parameters()]
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=3)
    trainer.fit(student, train)
    assert "train_kd" in trainer.callback_metrics and not student.teacher.training
    assert all(torch.equal(a, b) for a, b in zip(before, student.teacher.parameters()))


def test_staged_recipe_float_to_abc_weights_to_abc_activations(tmp_path):
    float_model = build_model("local_lenet5", arch_kwargs={"width": 0.5})
    torch.save({"state_dict": {"model." + k: v for k, v in float_model.state_dict().items()}}, tmp_path / "s1.ckpt")
    stage2 = ClassificationModule(build_model("local_lenet5", abc={"num_weight_bases": 3, "num_act_bases": None},
                                              arch_kwargs={"width": 0.5}), init_from=str(tmp_path / "s1.ckpt"))
    assert torch.equal(stage2.model[4].weight, float_model[4].weight)
    torch.save({"state_dict": {"model." + k: v for k, v in stage2.model.state_dict().items()}}, tmp_path / "s2.ckpt")
    stage3_model = build_model("local_lenet5", abc={"num_weight_bases": 3, "num_act_bases": 3}, arch_kwargs={"width": 0.5})
    added = load_stage_weights(stage3_model, str(tmp_path / "s2.ckpt"))
    assert added and all("input_quant" in k for k in added)
    assert torch.equal(stage3_model[4].weight, float_model[4].weight)
    with pytest.raises(ValueError, match="does not fit the model"):
        load_stage_weights(build_model("local_lfc", arch_kwargs={"width": 0.05}), str(tmp_path / "s2.ckpt"))


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, "num_classes=1"),
    ({"scheduler_interval": "batch"}, "scheduler_interval='batch'"),
    ({"distill_weight": 2.0}, "distill_weight=2.0"),
    ({"teacher_checkpoint": "x.ckpt"}, "teacher is None"),
    ({"progress_lines": -1}, "progress_lines=-1"),
])
def test_argument_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClassificationModule(mlp(), **kwargs)


def test_a_model_handed_over_in_eval_mode_trains_its_batchnorm_and_the_teacher_stays_in_eval():
    pl.seed_everything(0)
    train, _ = digits_loaders()
    model, teacher = mlp().eval(), mlp().eval()
    modes = []
    model[2].register_forward_hook(lambda m, args, out: modes.append(m.training))
    before, teacher_before = model[2].running_mean.clone(), teacher[2].running_mean.clone()
    module = ClassificationModule(model, optimizer=adam, teacher=teacher, progress_lines=0)
    quiet_trainer(max_epochs=1, limit_train_batches=3).fit(module, train)
    assert modes == [True] * 3
    assert not torch.equal(model[2].running_mean, before)  # batch statistics were used and tracked
    assert torch.equal(teacher[2].running_mean, teacher_before) and not teacher.training


def test_progress_lines_on_stdout_when_it_is_not_a_terminal(capsys):
    train, val = digits_loaders()
    quiet_trainer(max_epochs=1, limit_train_batches=4).fit(
        ClassificationModule(mlp(), optimizer=adam, progress_lines=2), train, val)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[train]")]
    assert [line.split(" loss")[0] for line in lines[:2]] == ["[train] epoch 0 step 2/4", "[train] epoch 0 step 4/4"]
    assert "images/s" in lines[0] and "validation: val_acc1" in lines[2]
    quiet_trainer(max_epochs=1, limit_train_batches=4).fit(
        ClassificationModule(mlp(), optimizer=adam, progress_lines=0), train)
    assert "[train]" not in capsys.readouterr().out
