"""Shared fixtures: the real-schema fixture rows laid out as each benchmark's local data folder,
with synthetic images, and helpers to write replay predictions."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from medunieval.benchmarks import BENCHMARKS
from medunieval.demo import synth_image

FIXTURES = Path(__file__).parent / "fixtures"
SIX = ["vqa_rad", "slake", "path_vqa", "medqa", "medmcqa", "pubmedqa"]

# Keep every test offline and away from the user's HF cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _images(folder: Path, names: list[str]) -> None:
    for i, name in enumerate(sorted(set(names))):
        synth_image(folder / name.replace("\\", "/"), seed=i)


def build_data_root(root: Path) -> Path:
    """``root/<bench>/`` folders in each benchmark's local layout."""
    vqa = root / "vqa_rad"
    vqa.mkdir(parents=True)
    shutil.copy(FIXTURES / "vqa_rad_testset.json", vqa / "testset.json")
    rows = json.loads((vqa / "testset.json").read_text())
    _images(vqa / "images", [r["image_name"] for r in rows])

    slake = root / "slake"
    slake.mkdir()
    shutil.copy(FIXTURES / "slake_test.json", slake / "test.json")
    _images(slake / "imgs", [r["img_name"] for r in json.loads((slake / "test.json").read_text())])

    path = root / "path_vqa"
    path.mkdir()
    shutil.copy(FIXTURES / "pathvqa_test.json", path / "test.json")
    _images(path, [r["image_path"] for r in json.loads((path / "test.json").read_text())])

    for bench, src, dst in [
        ("medqa", "medqa_test.jsonl", "test.jsonl"),
        ("medqa_op5", "medqa_op5_test.jsonl", "test.jsonl"),
        ("medmcqa", "medmcqa_validation.jsonl", "validation.jsonl"),
        ("pubmedqa", "pubmedqa_ori_pqal.json", "ori_pqal.json"),
    ]:
        (root / bench).mkdir()
        shutil.copy(FIXTURES / src, root / bench / dst)
    shutil.copy(
        FIXTURES / "pubmedqa_test_ground_truth.json", root / "pubmedqa" / "test_ground_truth.json"
    )
    return root


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only shared data folder (copy it before mutating)."""
    return build_data_root(tmp_path_factory.mktemp("data"))


@pytest.fixture()
def fresh_data(tmp_path: Path) -> Path:
    """A private data folder a test may break."""
    return build_data_root(tmp_path / "data")


def load_samples(bench: str, data_root: Path):
    spec = BENCHMARKS.get(bench)
    return spec.samples(spec.load_raw(data_root / bench))


def gold_response(sample) -> str:
    """A response that is right under both profiles."""
    return sample.answer


def wrong_response(sample) -> str:
    """A committed but wrong answer (a different option / the opposite yes-no / other text)."""
    if sample.choices:
        return next(k for k in sample.choices if k != sample.answer)
    gold = sample.answer.strip().lower()
    if gold in {"yes", "no"}:
        return "no" if gold == "yes" else "yes"
    return "zzzz qqqq"


def write_predictions(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """``rows`` of (benchmark, id, response) as a replay predictions file."""
    with path.open("w", encoding="utf-8") as fh:
        for bench, sid, text in rows:
            fh.write(json.dumps({"benchmark": bench, "id": sid, "response": text}) + "\n")
    return path


# --------------------------------------------------------------- shared end-to-end helpers
RESPONSE_STYLES = [
    "B",
    "(B)",
    "The answer is B.",
    "**Answer:** B",
    "\\boxed{B}",
    "<answer>B</answer>",
    "<option text>",
    "答案：B",
    "I cannot answer this question.",
    "",
]


def replay_cli(
    tmp: Path,
    preds: Path,
    benches: list[str],
    *extra: object,
    data_dir: Path | None = None,
    run_id: str = "r1",
):
    """``medunieval run`` with the replay backend, in-process; results under ``tmp/runs``."""
    from typer.testing import CliRunner

    from medunieval.cli import app

    args = [
        "run",
        "--model",
        "replay-model",
        "--backend",
        "replay",
        "--predictions",
        preds,
        "--bench",
        ",".join(benches),
        "--output",
        tmp / "runs",
        "--run-id",
        run_id,
    ]
    if data_dir is not None:
        args += ["--data-dir", data_dir]
    args += list(extra)
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def run_summary(tmp: Path, bench: str, run_id: str = "r1") -> dict:
    return json.loads((tmp / "runs" / run_id / bench / "summary.json").read_text())


def run_records(tmp: Path, bench: str, run_id: str = "r1") -> list[dict]:
    path = tmp / "runs" / run_id / bench / "records.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def score_text(bench: str, sample, text: str) -> dict:
    """Both profiles' verdicts for ``text`` as the response to ``sample``."""
    from medunieval.scoring.profiles import score_record
    from medunieval.types import Record, Response

    rec = Record(
        sample.id,
        bench,
        sample.answer,
        sample.answer_type,
        "k",
        "p",
        Response(text=text),
        choices=sample.choices,
    )
    return score_record(BENCHMARKS.get(bench), rec)


@pytest.fixture()
def scripted_judge(tmp_path: Path):
    """Registers the ``scripted`` judge backend; yields its class (reset) and a preset YAML."""
    from judge_helpers import ScriptedJudge, judge_preset, vqa_rule

    from medunieval.backends import BACKENDS

    BACKENDS.register("scripted", ScriptedJudge)
    ScriptedJudge.calls = 0
    ScriptedJudge.prompts = []
    ScriptedJudge.script = staticmethod(vqa_rule)
    try:
        yield ScriptedJudge, judge_preset(tmp_path)
    finally:
        BACKENDS._items.pop("scripted", None)
