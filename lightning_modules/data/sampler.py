"""A shuffling sampler whose order depends only on (seed, epoch), and which tells the dataset the epoch.

It subclasses ``DistributedSampler``, so Lightning keeps it under DDP instead of wrapping it, and
each rank takes every ``world_size``-th index of the same permutation: the union of the ranks'
batches ``k`` is the single-process batch ``k`` of ``world_size`` times the size.
"""
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler


class EpochSampler(DistributedSampler):
    """Seeded, epoch-aware sampler for one process or many.

    Args:
        dataset: the dataset; if it has ``set_epoch``, it is called with the sampler's epoch.
        seed: seed of the permutation (the same on every rank).
        shuffle: permute the indices (training) or keep their order.
        drop_last: drop the tail so every rank gets the same number of samples without padding.
    """

    def __init__(self, dataset: Dataset, seed: int = 0, shuffle: bool = True, drop_last: bool = False):
        distributed = dist.is_available() and dist.is_initialized()
        replicas = dist.get_world_size() if distributed else 1
        rank = dist.get_rank() if distributed else 0
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=drop_last)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def skip_once(self, count: int) -> None:
        """The next iteration starts after its first ``count`` indices (resuming mid-epoch); later ones are whole."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count={count!r} must be an int >= 0 (indices to skip)")
        self._skip = count

    def __iter__(self):
        skip, self._skip = getattr(self, "_skip", 0), 0
        indices = super().__iter__()
        for _ in range(skip):
            next(indices, None)
        return indices
