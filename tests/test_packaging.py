"""The core stays torch-free, and the wheel carries everything a run needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_without_torch_or_transformers():
    code = (
        "import sys\n"
        "import medunieval.cli, medunieval.engine, medunieval.backends.replay\n"
        "import medunieval.leaderboard, medunieval.regress, medunieval.report\n"
        "import medunieval.backends.hf  # the module itself imports torch lazily\n"
        "from medunieval.benchmarks import BENCHMARKS\n"
        "[BENCHMARKS.get(n) for n in BENCHMARKS.names()]\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_wheel_ships_presets_demo_data_and_benchmarks(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("medunieval-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in [
        "medunieval/configs/models/Hulu-Med-7B.yaml",
        "medunieval/demo_data/vqa_rad_testset.json",
        "medunieval/demo_data/medqa_test.jsonl",
        "medunieval/benchmarks/vqa_rad.py",
        "medunieval/scoring/compat.py",
        "medunieval/reference/table1.yaml",
        "medunieval/reference/table2.yaml",
        "medunieval/reference/representative.yaml",
        "medunieval/configs/suites/ci.yaml",
        "medunieval/configs/suites/paper-table-1.yaml",
        "medunieval/data/hub_cards.yaml",
    ]:
        assert needed in names, needed
    assert not any(n.startswith(("benchmarks/", "configs/", "tests/")) for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "medunieval = medunieval.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
