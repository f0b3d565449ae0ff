"""The check every FINN build test makes: each verification stage of a ``finn_flow.build`` agrees with its reference.

``finn_flow.build(..., verify_inputs=images)`` executes the graph after each stage (QONNX, streamlined, hardware
layers, folded) on the images and compares it with PyTorch (or with the QONNX graph for a file input); the rows are
``result.verification``. :func:`assert_every_stage_exact` asserts them all at once and, on failure, names the stage
with its numbers instead of dumping a dictionary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from finn_flow.verify import STAGES


def _describe(row: dict) -> str:
    return (f"stage {row.get('stage')!r} on {row.get('images')} images: argmax agreement "
            f"{row.get('argmax_agreement')} ({row.get('argmax_exact_matches')} exact argmax matches), max abs diff "
            f"{row.get('max_abs_diff')} (tolerance {row.get('tolerance')}), passed={row.get('passed')}")


def assert_every_stage_exact(result, images: int | None = None, *, max_abs_diff: float | None = None,
                             stages: tuple[str, ...] = STAGES, distinct_outputs: int | None = None,
                             integer_dataflow: bool = True) -> None:
    """Every stage of ``result`` ran on the same images as the reference and agrees with it.

    Checks, per row of ``result.verification``: the stages are ``stages`` in build order; each ran on ``images``
    images (when given); the argmax agrees on every image (``argmax_agreement == 1``, ties within the tolerance
    count, see :func:`finn_flow.verify.compare`); the row passed the build's own check (difference within
    ``verify_atol``); and, with ``max_abs_diff`` given, the largest output difference is at most that (``0.0``:
    bit for bit). With ``integer_dataflow`` and the folded stage among them, the accelerator's output is integer and
    after folding equals the ``hw_layers`` stage's (``dataflow_max_abs_diff_vs_hw_layers == 0``). With
    ``distinct_outputs``, the reference has at least that many distinct output rows (not a constant network, for which
    agreement proves little).

    Args:
        result: a :class:`finn_flow.build.BuildResult` of a build with ``verify_inputs``.
        images: the number of verification images every stage must have run on.
        max_abs_diff: the largest ``|stage - reference|`` allowed (None: only the build's own tolerance).
        stages: the stages expected, in order.
        distinct_outputs: the least number of distinct reference output rows.
        integer_dataflow: check the accelerator's integer output (False for builds that allow float inside it).
    """
    rows = result.verification
    assert [row.get("stage") for row in rows] == list(stages), (
        f"stages {[row.get('stage') for row in rows]}, expected {list(stages)}")
    for row in rows:
        problems = []
        if images is not None and row["images"] != images:
            problems.append(f"ran on {row['images']} images, expected {images}")
        if row["argmax_agreement"] != 1.0:
            problems.append("argmax disagrees")
        if not row["passed"]:
            problems.append("the build's check failed")
        if max_abs_diff is not None and not row["max_abs_diff"] <= max_abs_diff:
            problems.append(f"max abs diff above {max_abs_diff}")
        assert not problems, f"{_describe(row)}: {'; '.join(problems)}"
    if integer_dataflow and "folded" in stages:
        folded = rows[list(stages).index("folded")]
        assert folded.get("dataflow_output_is_integer"), f"the accelerator's output is not integer; {_describe(folded)}"
        assert folded.get("dataflow_max_abs_diff_vs_hw_layers") == 0.0, (
            f"the folded accelerator's integer output differs from the hw_layers stage's: max abs diff "
            f"{folded.get('dataflow_max_abs_diff_vs_hw_layers')} on {folded.get('images')} images")
    if distinct_outputs is not None:
        reference = np.load(Path(result.output_dir) / "input" / "verify_expected.npy")
        distinct = len(np.unique(reference.round(5), axis=0))
        assert distinct >= distinct_outputs, (
            f"the reference has {distinct} distinct output rows on {len(reference)} images, expected at least "
            f"{distinct_outputs}: the test model is (almost) constant")
