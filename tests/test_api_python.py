"""The Python API (issue 13): ``medunieval.evaluate`` with the CLI's options, a user's own model
object, ``load_run`` and DataFrames; the README's example runs as printed."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import gold_response, load_samples, write_predictions

import medunieval
from medunieval.errors import ConfigError
from medunieval.types import Request, Response

ROOT = Path(__file__).resolve().parents[1]


class GoldModel:
    """A user's model class: answers from a lookup of gold answers (no plugin package)."""

    name = "gold-model"
    modalities = frozenset({"text", "image"})
    cacheable = True

    def __init__(self, answers: dict[tuple[str, str], str]) -> None:
        self.answers = answers
        self.calls = 0

    def fingerprint(self) -> str:
        return "gold-model:v1"

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        for req in requests:
            self.calls += 1
            yield (
                req,
                Response(text=self.answers[req.benchmark, req.sample_id], finish_reason="stop"),
            )

    def close(self) -> None:
        pass


def test_evaluate_a_python_model_object(tmp_path: Path, data_root: Path) -> None:
    samples = load_samples("medqa", data_root) + load_samples("vqa_rad", data_root)
    model = GoldModel({(s.benchmark, s.id): gold_response(s) for s in samples})
    opts = dict(data_dir=data_root, output=tmp_path / "runs", cache=tmp_path / "store.sqlite")
    run = medunieval.evaluate(model, ["medqa", "vqa_rad"], limit=10, **opts)
    assert run.benchmarks == ["medqa", "vqa_rad"]
    assert run.score("medqa") == 1.0 and run.score("vqa_rad", "compat") == 1.0
    assert run.generation["generated"] == 20 and model.calls == 20
    assert run.manifest["backend"]["name"] == "python"
    df = run.records().to_pandas()
    assert len(df) == 20 and df["strict_correct"].all()
    assert {"benchmark", "sample_id", "answer", "response", "meta_step"} <= set(df.columns)
    assert set(run.summary_frame()["metric"]) == {"accuracy"}
    again = medunieval.evaluate(model, ["medqa", "vqa_rad"], limit=10, **opts)
    assert again.path == run.path and again.generation["skipped"] == 20 and model.calls == 20
    loaded = medunieval.load_run(run.path)
    assert loaded.summaries.keys() == run.summaries.keys()
    assert len(loaded.records("medqa")) == 10


def test_evaluate_takes_the_cli_options_and_a_config_file(tmp_path: Path, data_root: Path):
    samples = load_samples("medqa", data_root)
    preds = write_predictions(
        tmp_path / "p.jsonl", [("medqa", s.id, gold_response(s)) for s in samples]
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"backend: replay\npredictions: {preds}\nlimit: 7\n")
    run = medunieval.evaluate(
        "my-tool", "medqa", config=cfg, data_dir=str(data_root / "medqa"), output=tmp_path / "r"
    )
    assert run.summaries["medqa"]["n"] == 7 and run.score("medqa") == 1.0
    with pytest.raises(ConfigError, match="did you mean 'limit'"):
        medunieval.evaluate("my-tool", ["medqa"], limt=3)
    with pytest.raises(ConfigError, match="backend protocol"):
        medunieval.evaluate(object(), ["medqa"])


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    run = namespace["run"]
    assert run.summaries["medqa"]["n"] == 20 and len(namespace["df"]) == 40


def test_records_are_the_latest_per_sample_after_a_resume(tmp_path: Path, data_root: Path):
    samples = load_samples("medqa", data_root)[:6]
    model = GoldModel({(s.benchmark, s.id): gold_response(s) for s in samples})
    good = model.generate

    def flaky(requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        for i, (req, resp) in enumerate(good(requests)):  # the first two requests fail
            yield req, Response(text=None, error="boom: x") if i < 2 else resp

    opts = dict(data_dir=data_root / "medqa", limit=6, output=tmp_path / "runs", no_cache=True)
    model.generate = flaky  # type: ignore[method-assign]
    first = medunieval.evaluate(model, ["medqa"], **opts)
    assert first.summaries["medqa"]["errors"] == 2
    model.generate = good  # type: ignore[method-assign]
    second = medunieval.evaluate(model, ["medqa"], **opts)
    assert second.path == first.path and second.generation["generated"] == 2
    df = second.records("medqa").to_pandas()
    assert len(df) == 6 and df["error"].isna().all() and df["strict_correct"].all()
