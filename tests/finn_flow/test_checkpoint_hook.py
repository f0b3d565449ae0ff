"""finn_flow's checkpoint hook: the training side's loader is resolved by name only when a checkpoint is built;
a registered loader replaces it; loader errors become InvalidModelError with their message."""
import pytest
import torch
from torch import nn

import finn_flow
from finn_flow import checkpoint_hook


@pytest.fixture(autouse=True)
def default_loader():
    yield
    checkpoint_hook.register_checkpoint_loader(None)


def test_default_loader_is_the_training_side_and_its_errors_name_the_file(tmp_path):
    from lightning_modules.checkpoint import load_checkpoint

    assert checkpoint_hook.checkpoint_loader() is load_checkpoint
    with pytest.raises(finn_flow.InvalidModelError, match=r"model='.*missing.ckpt': no such file"):
        checkpoint_hook.load_checkpoint(tmp_path / "missing.ckpt", tmp_path / "config.yaml")
    bad = tmp_path / "bad.ckpt"
    torch.save({"weights": 1}, bad)
    (tmp_path / "config.yaml").write_text("model: {}\n")
    with pytest.raises(finn_flow.InvalidModelError, match=r"bad.ckpt' is not a Lightning checkpoint: KeyError"):
        checkpoint_hook.load_checkpoint(bad, tmp_path / "config.yaml")


def test_a_registered_loader_is_used_and_its_value_errors_are_translated(tmp_path):
    seen = []

    def loader(path, config):
        seen.append((path, config))
        if str(path).endswith("broken.ckpt"):
            raise ValueError("broken.ckpt: weights do not fit")
        return nn.Linear(2, 2)

    checkpoint_hook.register_checkpoint_loader(loader)
    assert isinstance(checkpoint_hook.load_checkpoint("a.ckpt", "c.yaml"), nn.Linear)
    with pytest.raises(finn_flow.InvalidModelError, match="broken.ckpt: weights do not fit"):
        checkpoint_hook.load_checkpoint("broken.ckpt", "c.yaml")
    assert seen == [("a.ckpt", "c.yaml"), ("broken.ckpt", "c.yaml")]
    with pytest.raises(ValueError, match="loader=3 is not allowed: expected a callable"):
        checkpoint_hook.register_checkpoint_loader(3)
