"""docs/DESIGN.md: every "DESIGN x.y" reference in the code and docs names a section that exists there."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"
PACKAGES = ("brevitas_abc", "finn_flow", "lightning_modules", "benchmarks", "scripts", "tests")
REFERENCE = re.compile("DESIGN" + r"(?:\.md)?,?\s+(\d+(?:\.\d+)?)\b")   # "DESIGN 1.3", "DESIGN.md 6"
HEADING = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", re.MULTILINE)      # "## 1. ABC-Net", "### 1.3 Integer ..."


def design_sections() -> set[str]:
    return set(HEADING.findall(DESIGN.read_text()))


def references() -> dict[str, list[str]]:
    """``{section: ["path:line", ...]}`` over the packages' Python files and the READMEs."""
    files = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    files += [ROOT / "README.md", *(ROOT / package / "README.md" for package in PACKAGES)]
    found: dict[str, list[str]] = {}
    for path in files:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for section in REFERENCE.findall(line):
                found.setdefault(section, []).append(f"{path.relative_to(ROOT)}:{number}")
    return found


def test_design_doc_has_the_numbered_sections_the_code_relies_on():
    sections = design_sections()
    assert {"1", "1.1", "1.2", "1.3", "2", "3", "4", "5", "6", "7", "8", "9"} <= sections
    text = DESIGN.read_text()
    for topic in ("bitwise", "fused", "integer", "to_export_form", "latent_weights", "BipolarQuant"):
        assert topic in text


def test_every_design_reference_points_at_an_existing_section():
    found = references()
    assert len(found) >= 5 and sum(len(v) for v in found.values()) >= 20   # the scan sees the references
    missing = {section: places for section, places in found.items() if section not in design_sections()}
    assert missing == {}
