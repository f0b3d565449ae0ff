"""assert_every_stage_exact: passes on a build report whose every stage agrees, and names the stage and its numbers
when one does not (report rows as finn_flow.verify writes them; no build)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from .build_checks import assert_every_stage_exact


def _result(**changes) -> SimpleNamespace:
    rows = [{"stage": stage, "images": 20, "argmax_agreement": 1.0, "argmax_exact_matches": 20, "max_abs_diff": 0.0,
             "tolerance": 1e-4, "passed": True} for stage in ("qonnx", "streamlined", "hw_layers", "folded")]
    rows[-1].update(dataflow_output_is_integer=True, dataflow_max_abs_diff_vs_hw_layers=0.0)
    for stage, update in changes.items():
        next(row for row in rows if row["stage"] == stage).update(update)
    return SimpleNamespace(verification=rows, output_dir=None)


def test_every_stage_agreeing_passes():
    assert_every_stage_exact(_result(), 20, max_abs_diff=0.0)


@pytest.mark.parametrize("changes, kwargs, message", [
    ({"streamlined": {"argmax_agreement": 0.95, "argmax_exact_matches": 19, "max_abs_diff": 2.67, "passed": False}},
     {}, r"stage 'streamlined' on 20 images: argmax agreement 0.95 \(19 exact argmax matches\), max abs diff 2.67 "
         r".*argmax disagrees; the build's check failed"),
    ({"hw_layers": {"max_abs_diff": 2.4e-07}}, {"max_abs_diff": 0.0}, r"stage 'hw_layers'.*max abs diff above 0.0"),
    ({"qonnx": {"images": 19}}, {}, r"stage 'qonnx'.*ran on 19 images, expected 20"),
    ({"folded": {"dataflow_max_abs_diff_vs_hw_layers": 1.0}}, {}, r"integer output differs from the hw_layers"),
    ({}, {"stages": ("qonnx", "folded")}, r"stages \['qonnx', 'streamlined', 'hw_layers', 'folded'\], expected"),
], ids=["argmax-and-check", "not-bit-exact", "image-count", "folded-vs-hw-layers", "stage-list"])
def test_a_disagreeing_stage_is_named_with_its_numbers(changes, kwargs, message):
    with pytest.raises(AssertionError, match=message):
        assert_every_stage_exact(_result(**changes), 20, **kwargs)
