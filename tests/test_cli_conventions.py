"""CLI conventions (issue 13): --version / -h, one typed run configuration from flags and
--config YAML, "did you mean" for models and config keys, output that is never truncated off a
terminal, a summary naming each benchmark's metric, and misconfiguration reported at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SIX, gold_response, load_samples, replay_cli, write_predictions
from typer.testing import CliRunner

from medunieval import __version__
from medunieval.cli import app, judge_line, metric_label, print_summary
from medunieval.console import make_console
from medunieval.errors import ConfigError
from medunieval.runconfig import from_sources

runner = CliRunner()


def _gold_preds(tmp: Path, data_root: Path, benches: list[str]) -> Path:
    rows = [
        (s.benchmark, s.id, gold_response(s)) for b in benches for s in load_samples(b, data_root)
    ]
    return write_predictions(tmp / "preds.jsonl", rows)


def test_version_and_short_help() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"medunieval {__version__}"
    res = runner.invoke(app, ["run", "-h"])
    assert res.exit_code == 0 and "--model" in res.output


def test_help_off_a_terminal_keeps_option_names_whole() -> None:
    res = runner.invoke(app, ["run", "--help"])
    assert res.exit_code == 0
    for name in ("--trust-remote-code", "--data-parallel", "--max-new-tokens", "--no-cache"):
        assert name in res.output
    assert "…" not in res.output


def test_list_never_truncates_ids(tmp_path: Path) -> None:
    table = runner.invoke(app, ["list", "benchmarks"])
    assert table.exit_code == 0 and "healthbench_consensus" in table.output
    assert "…" not in table.output
    plain = runner.invoke(app, ["list", "benchmarks", "--format", "plain"])
    ids = [line.split("\t")[0] for line in plain.output.splitlines()]
    assert "healthbench_consensus" in ids and "vqa_rad" in ids
    slake = next(
        line.split("\t") for line in plain.output.splitlines() if line.startswith("slake\t")
    )
    assert "`qid`" in slake  # the sample-id column
    models = json.loads(runner.invoke(app, ["list", "models", "--format", "json"]).output)
    assert {"preset": "Hulu-Med-7B"}.items() <= next(
        m for m in models if m["preset"] == "Hulu-Med-7B"
    ).items()
    bad = runner.invoke(app, ["list", "models", "--format", "xml"])
    assert bad.exit_code == 2 and "--format" in bad.output


def test_console_off_a_terminal_is_wide() -> None:
    console = make_console()
    with console.capture() as cap:
        console.print("x" * 300)
    assert cap.get().strip() == "x" * 300


def test_model_typo_says_did_you_mean(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", "--model", "Hulu-Med-7", "--bench", "medqa"])
    assert res.exit_code == 2 and "Did you mean Hulu-Med-7B" in res.output


def test_config_yaml_sets_any_option_and_flags_override_it(tmp_path: Path, data_root: Path) -> None:
    preds = _gold_preds(tmp_path, data_root, ["medqa"])
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"model: replay-model\nbackend: replay\npredictions: {preds}\nbench: medqa\n"
        f"limit: 20\ndata: {{medqa: {data_root / 'medqa'}}}\noutput: {tmp_path / 'runs'}\n"
        "run_id: y1\nprofile: strict\n"
    )
    res = runner.invoke(app, ["run", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    records = (tmp_path / "runs" / "y1" / "medqa" / "records.jsonl").read_text().splitlines()
    assert len(records) == 20
    assert "compat parsed" not in res.output  # profile: strict from the file
    res = runner.invoke(app, ["run", "--config", str(cfg), "--limit", "5", "--run-id", "y2"])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "runs" / "y2" / "medqa" / "records.jsonl").read_text().splitlines()) == 5


def test_config_yaml_unknown_key_and_bad_type(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: m\nbench: medqa\nlimt: 20\n")
    res = runner.invoke(app, ["run", "--config", str(cfg)])
    assert res.exit_code == 2 and "unknown option 'limt'" in res.output
    assert "did you mean 'limit'" in res.output
    cfg.write_text("model: m\nbench: medqa\nlimit: many\n")
    res = runner.invoke(app, ["run", "--config", str(cfg)])
    assert res.exit_code == 2 and "limit expects int" in res.output
    res = runner.invoke(app, ["run", "--bench", "medqa"])
    assert res.exit_code == 2 and "no model given" in res.output


def test_run_configuration_is_typed_from_every_source(tmp_path: Path) -> None:
    cfg, display = from_sources(
        {"model": "m", "bench": "medqa,slake", "batch_size": "8", "gpus": "0,1", "no_cache": True}
    )
    assert cfg.benchmarks == ["medqa", "slake"] and cfg.batch_size == 8
    assert cfg.gpus == ["0", "1"] and cfg.use_cache is False and display == {}
    cfg, _ = from_sources(api={"model": "m", "benchmarks": ["medqa"], "output": str(tmp_path)})
    assert cfg.output == tmp_path
    with pytest.raises(ConfigError, match="did you mean 'temperature'"):
        from_sources(api={"model": "m", "benchmarks": ["medqa"], "temprature": 0.5})
    with pytest.raises(ConfigError, match="batch-size"):
        from_sources({"model": "m", "bench": "medqa", "batch_size": "0"})


def test_data_for_a_benchmark_not_in_the_run_is_an_error(tmp_path: Path, data_root: Path):
    preds = _gold_preds(tmp_path, data_root, ["medqa"])
    res = replay_cli(
        tmp_path, preds, ["medqa"], "--data", f"medqa={data_root / 'medqa'}",
        "--data", f"medqaa={data_root / 'medqa'}",
    )  # fmt: skip
    assert res.exit_code == 2 and "--data for medqaa: not in this run" in res.output
    assert "did you mean 'medqa'" in res.output


def test_missing_data_of_several_benchmarks_is_reported_at_once(tmp_path: Path) -> None:
    preds = write_predictions(tmp_path / "p.jsonl", [])
    empty = tmp_path / "empty"
    empty.mkdir()
    res = replay_cli(tmp_path, preds, ["medqa", "slake", "vqa_rad"], data_dir=empty)
    assert res.exit_code == 2
    assert "3 benchmarks cannot load their data" in res.output
    for name in ("medqa", "slake", "vqa_rad"):
        assert f"--data {name}=PATH" in res.output


def test_summary_names_each_metric_and_the_judge_line_only_when_meaningful(
    tmp_path: Path, data_root: Path
) -> None:
    preds = _gold_preds(tmp_path, data_root, SIX)
    res = replay_cli(tmp_path, preds, SIX, data_dir=data_root)
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output and "metric" in res.output
    assert "judged 0" not in res.output  # no judge was asked for
    n_open = sum(s.answer_type == "open" for s in load_samples("vqa_rad", data_root))
    assert f"vqa_rad: no judge · {n_open} open question(s) scored by exact match" in res.output
    assert "(e.g. )" not in res.output


def test_summary_lines_unit() -> None:
    report = {"profiles": {"strict": {"metric": "rougeL"}, "compat": {"metric": "rougeL"}}}
    assert metric_label(report) == "ROUGE-L"
    assert metric_label({"profiles": {"strict": {"metric": "healthbench_score"}}}) == "rubric score"
    closed_only = {
        "judge": {"task": "vqa", "judges": [], "judged": 0, "errors": 0, "unjudged": 12},
        "profiles": {"strict": {"subscores": {"answer_type": {"closed": {"n": 12}}}}},
    }
    assert judge_line(closed_only) is None
    asked = {"judge": {"task": "vqa", "judges": ["j"], "judged": 3, "errors": 1, "unjudged": 0}}
    assert "judged 3, judge errors 1, not judged 0" in (judge_line(asked) or "")
    summary = {
        "n": 2, "errors": 2, "error_kinds": {"missing_media": 1, "generation_error": 1},
        "error_examples": {"missing_media": "a.png"},
        "profiles": {"strict": {"metric": "accuracy", "score": 0.0, "parse_rate": None,
                                "subscores": {}}},
    }  # fmt: skip
    console = make_console()
    with console.capture() as cap:
        print_summary({"b": summary}, ("strict",), console)
    text = cap.get()
    assert "1 × missing_media (e.g. a.png)" in text and "(e.g. )" not in text
    assert "1 × generation_error\n" in text


def test_data_revision_from_yaml_and_flags_merge(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: m\nbench: medqa,slake\ndata_revision: {medqa: latest, slake: v1}\n")
    run_cfg, _ = from_sources({"data_revision": ["slake=abc123"]}, cfg)
    assert run_cfg.data_revision == {"medqa": "latest", "slake": "abc123"}
    with pytest.raises(ConfigError, match="unknown benchmark 'medqaa'"):
        from_sources(api={"model": "m", "benchmarks": ["medqa"], "data_revision": "medqaa=v1"})
