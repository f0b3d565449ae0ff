"""The API reference (scripts/api_docs.py, pdoc) builds without warnings and shows config fields with defaults."""
import html
import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "api_docs.py"


def _text(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


@pytest.mark.slow
def test_api_reference_builds_without_warnings_and_shows_config_defaults(tmp_path):
    spec = importlib.util.spec_from_file_location("api_docs", SCRIPT)
    api_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(api_docs)
    assert api_docs.build_api_docs(tmp_path) == []
    swap_page = _text(tmp_path / "brevitas_abc" / "swap.html")
    for field in ("num_weight_bases: int = 3", "weight_granularity: str = 'per_channel'", "act_shifts",
                  "coefficient_bits: int | None = None", "keep_first: bool = True"):
        assert field in swap_page, field
    assert "method: str = 'lloyd'" in _text(tmp_path / "brevitas_abc" / "calibration" / "calibrate.html")
    assert "abc_mapping" in _text(tmp_path / "finn_flow" / "config.html")
    assert (tmp_path / "lightning_modules" / "module.html").is_file() and (tmp_path / "index.html").is_file()
