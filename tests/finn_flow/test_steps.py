"""The step lists: finn-plus's own steps, in finn-plus's order, with ours in between.

Nothing we add to run without Vivado may break the Vivado path: with ``vivado=True`` the list must still hold
every step of finn-plus's default flow (``default_build_dataflow_steps``), in its order, ending with the
steps that need Vivado/Vitis HLS, each resolvable by finn-plus's step lookup.
"""

from __future__ import annotations

import pytest

from finn_flow.finn_env import prepare_finn
from finn_flow.steps import VIVADO_STEPS, finn_flow_steps

pytestmark = pytest.mark.finn


def _names(steps: list) -> list[str]:
    return [step if isinstance(step, str) else step.__name__ for step in steps]


@pytest.fixture(scope="module")
def finn_defaults(tmp_path_factory):
    prepare_finn(tmp_path_factory.mktemp("finn_build_dir"))
    from finn.builder.build_dataflow_config import default_build_dataflow_steps
    from finn.builder.build_dataflow_steps import build_dataflow_step_lookup

    return list(default_build_dataflow_steps), build_dataflow_step_lookup


@pytest.mark.parametrize("vivado", [True, False])
def test_step_list_keeps_finn_plus_steps_in_their_order(finn_defaults, vivado):
    defaults, lookup = finn_defaults
    names = _names(finn_flow_steps(vivado=vivado))
    expected = defaults if vivado else [s for s in defaults if s not in VIVADO_STEPS]
    missing = [s for s in expected if s not in names]
    assert not missing, f"finn-plus steps dropped from our flow: {missing}"
    positions = [names.index(s) for s in expected]
    assert positions == sorted(positions), [names[p] for p in positions]
    assert len(set(names)) == len(names), names
    unknown = [s for s in finn_flow_steps(vivado=vivado) if isinstance(s, str) and s not in lookup]
    assert not unknown, unknown
    if vivado:
        assert names[-len(VIVADO_STEPS):] == VIVADO_STEPS
    else:
        assert names[-2:] == ["step_hw_codegen", "step_verify_folded"]
        assert not set(VIVADO_STEPS) & set(names)


def test_estimates_only_stops_after_the_reports(finn_defaults):
    names = _names(finn_flow_steps(vivado=False, codegen=False))
    assert names[-2:] == ["step_generate_estimate_reports", "step_verify_folded"]


@pytest.mark.parametrize("vivado", [True, False])
def test_fit_replaces_target_fps_folding_and_reports_after_the_estimates(finn_defaults, vivado):
    names, plain = _names(finn_flow_steps(vivado=vivado, fit=True)), _names(finn_flow_steps(vivado=vivado))
    assert "step_target_fps_parallelization" not in names
    at = plain.index("step_target_fps_parallelization")
    assert names[at] == "step_fit_folding_to_board"
    assert names[names.index("step_generate_estimate_reports") + 1] == "step_report_fit"
    assert [n for n in names if n not in ("step_fit_folding_to_board", "step_report_fit")] == \
        [n for n in plain if n != "step_target_fps_parallelization"]
