"""``ResumableDataLoader``: a training ``DataLoader`` that resumes mid-epoch where the checkpoint left off.

Lightning restores the weights, optimiser and loop counters from ``last.ckpt``, but a plain ``DataLoader``
starts its epoch again from the first batch, so a run killed mid-epoch and resumed trains on batches
``0..k-1`` of that epoch twice and never on the last ``k`` (Lightning warns "your dataloader is not resumable").
This loader implements Lightning's ``state_dict`` / ``load_state_dict`` interface: the checkpoint records how
many batches of the current epoch were trained (``batches_done``), and the resumed loader's ``EpochSampler``
skips that many batches' indices once. The order of an epoch depends only on (seed, epoch), so the resumed
epoch continues with batch ``k`` of the same permutation.
"""
from collections.abc import Callable

from torch.utils.data import DataLoader

from lightning_modules.data.sampler import EpochSampler


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` over an ``EpochSampler`` with Lightning's resumable-loader interface.

    Args:
        batches_done: returns the number of batches of the current epoch already trained (read when a
            checkpoint is saved), e.g. the trainer's ``fit_loop.epoch_loop.batch_progress.current.processed``.
        *args, **kwargs: ``DataLoader``'s; ``sampler`` must be an ``EpochSampler``.
    """

    def __init__(self, *args, batches_done: Callable[[], int], **kwargs):
        super().__init__(*args, **kwargs)
        if not isinstance(self.sampler, EpochSampler):
            raise TypeError(f"sampler={type(self.sampler).__name__} is not allowed: ResumableDataLoader needs an "
                            "EpochSampler (its order depends only on seed and epoch)")
        self._batches_done = batches_done

    def state_dict(self) -> dict:
        done = int(self._batches_done())
        return {"epoch": int(self.sampler.epoch), "batches_done": 0 if done >= len(self) else done}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.skip_once(int(state.get("batches_done", 0)) * self.batch_size)
