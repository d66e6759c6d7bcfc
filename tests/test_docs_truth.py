"""The repository's docs speak only of the repository and render as intended (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "tests/fixtures/README.md",
]


def test_docs_name_no_files_outside_the_repository() -> None:
    sources = [*ROOT.glob("medunieval/**/*.py"), *ROOT.glob("tests/*.py")]
    for path in DOCS + [p for p in sources if p.name != "test_docs_truth.py"]:
        text = path.read_text("utf-8")
        for outside in ("../shared", "PRIOR_ART", "BENCHMARKS.md", "real_samples"):
            assert outside not in text, f"{path.name} mentions {outside}"


def test_markdown_tables_have_no_stray_rows() -> None:
    """A table row after a paragraph renders as text: every row-looking line must follow a
    table line (the catalogue of docs/benchmarks.md had such rows)."""
    for path in DOCS:
        lines = path.read_text("utf-8").splitlines()
        for i, line in enumerate(lines[1:], 1):
            if re.match(r"^\| `", line):
                assert lines[i - 1].startswith("|"), f"{path.name} line {i + 1}: {line[:40]}"


def test_readme_records_table_names_the_answer_field() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| `<bench>/records.jsonl`"))
    assert "`answer`" in row and "question, gold," not in row
