"""Capture and restore the global random number generators (Python, NumPy, torch CPU and CUDA).

Lightning's checkpoints restore weights, optimiser, schedulers and loop counters, but not these states;
``ClassificationModule`` stores them in its checkpoints so that resuming reproduces the uninterrupted run
(data order and augmentation are seeded per epoch by ``EpochSampler`` and do not depend on them)."""
import random

import numpy as np
import torch


def get_rng_states() -> dict:
    """The states as tensors, lists and numbers only, so checkpoints still load with ``weights_only=True``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    states = {"python": random.getstate(), "torch": torch.get_rng_state(),
              "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
