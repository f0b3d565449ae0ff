"""ImageFolder trees (``<root>/<class>/<image>``) read with PIL: the class list, the file list, and
eager decoding into one ``uint8`` array for small images (CIFAR-sized JPEG trees)."""
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


def find_classes(root: str | Path) -> list[str]:
    """Sorted names of the sub-folders of ``root``: class ``i`` is the ``i``-th name.

    Raises:
        FileNotFoundError: ``root`` is not a folder or has no sub-folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ImageFolder root {str(root)!r} is not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"ImageFolder root {str(root)!r} has no class sub-folders")
    return classes


def list_images(root: str | Path, classes: list[str] | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """All image files under ``root/<class>/`` (recursively, sorted) with their ``int64`` labels.

    Args:
        root: the tree's root.
        classes: the class names in label order; default ``find_classes(root)``.
    Returns:
        ``(paths, labels, classes)``.
    Raises:
        FileNotFoundError: a class folder is missing or the tree holds no image.
    """
    root = Path(root)
    classes = list(classes) if classes is not None else find_classes(root)
    paths, labels = [], []
    for index, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            raise FileNotFoundError(f"class folder {str(folder)!r} is missing (classes={classes})")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        paths += files
        labels += [index] * len(files)
    if not paths:
        raise FileNotFoundError(f"no image with an extension in {IMAGE_EXTENSIONS} under {str(root)!r}")
    return paths, np.asarray(labels, dtype=np.int64), classes


def open_rgb(path: str | Path):
    """The image at ``path`` as an RGB ``PIL.Image``."""
    from PIL import Image

    with Image.open(path) as image:
        return image.convert("RGB")


def decode_all(paths: list[Path], size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode every image into one ``uint8 [N, H, W, 3]`` array (resized to ``size`` = (H, W) if given).

    Raises:
        ValueError: images differ in size and no ``size`` was given.
    """
    arrays = []
    for path in paths:
        image = open_rgb(path)
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]))
        arrays.append(np.asarray(image, dtype=np.uint8))
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"images under the tree have different shapes {sorted(shapes)[:4]}; pass size=(H, W)")
    return np.stack(arrays)
