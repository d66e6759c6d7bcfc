"""Suites: shipped suite files, the seeded stratified subset, and `run --suite`."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from conftest import gold_response, load_samples, write_predictions
from typer.testing import CliRunner

from medunieval.benchmarks import BENCHMARKS
from medunieval.cli import app
from medunieval.leaderboard import load_table
from medunieval.suites import SubsetSpec, load_suite, select_subset, suite_names

runner = CliRunner()


@dataclass
class Item:
    id: str
    stratum: str


def _items(n_a: int, n_b: int) -> list[Item]:
    return [Item(f"a{i}", "A") for i in range(n_a)] + [Item(f"b{i}", "B") for i in range(n_b)]


def _pick(items: list[Item], spec: SubsetSpec) -> list[str]:
    return [i.id for i in select_subset("bench", items, spec, [i.stratum for i in items])]


def test_subset_is_stratified_seeded_and_stable_under_reordering() -> None:
    items = _items(75, 25)
    spec = SubsetSpec(n=20, seed=7)
    picked = _pick(items, spec)
    assert len(picked) == 20
    assert sum(p.startswith("a") for p in picked) == 15  # proportional: 75% of 20
    assert picked == [i.id for i in items if i.id in set(picked)]  # dataset order kept
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    assert sorted(_pick(shuffled, spec)) == sorted(picked)  # order does not matter
    assert _pick(items, spec) == picked  # deterministic
    assert sorted(_pick(items, SubsetSpec(n=20, seed=8))) != sorted(picked)  # seed matters
    # adding rows to one stratum leaves the other stratum's picks unchanged
    more = items + [Item(f"b{i}", "B") for i in range(25, 50)]
    assert len(_pick(more, SubsetSpec(n=30, seed=7))) == 30
    assert _pick(items, SubsetSpec(n=500, seed=7)) == [i.id for i in items]  # n >= size: all


def test_subset_largest_remainder_allocation() -> None:
    items = _items(5, 5) + [Item("c0", "C")]
    picked = _pick(items, SubsetSpec(n=3, seed=0))
    # quotas 1.36 / 1.36 / 0.27: A and B get one each, the extra goes to the larger remainder
    assert len(picked) == 3 and {p[0] for p in picked} >= {"a", "b"}


def test_shipped_suites_match_the_tables_and_registry() -> None:
    assert suite_names() == ["ci", "paper-all", "paper-table-1", "paper-table-2"]
    assert load_suite("paper-table-1").benchmarks == load_table("1").benchmarks()
    assert load_suite("paper-table-2").benchmarks == load_table("2").benchmarks()
    ci = load_suite("ci")
    assert set(ci.benchmarks) == set(load_table("1").benchmarks()) | set(
        load_table("2").benchmarks()
    )
    assert all(spec == SubsetSpec(50, 20251008) for spec in ci.subset.values())
    registered = set(BENCHMARKS.names())
    assert set(ci.benchmarks) <= registered
    assert not load_suite("paper-table-1").subset


def _suite_cli(tmp: Path, data_root: Path, suite: Path | str, *extra: str):
    samples = load_samples("vqa_rad", data_root) + load_samples("medqa", data_root)
    preds = write_predictions(
        tmp / "p.jsonl", [(s.benchmark, s.id, gold_response(s)) for s in samples]
    )
    args = ["run", "--model", "m", "--backend", "replay", "--predictions", str(preds),
            "--suite", str(suite), "--data-dir", str(data_root), "--output", str(tmp / "runs"),
            *extra]  # fmt: skip
    return runner.invoke(app, args)


def test_run_suite_runs_exactly_the_subset(tmp_path: Path, data_root: Path) -> None:
    suite = tmp_path / "mini.yaml"
    suite.write_text(
        "name: mini\nbenchmarks: [vqa_rad, medqa]\nsubset: {n: 10, seed: 3}\n"
        "subsets:\n  medqa: {n: 4, seed: 3}\n"
    )
    res = _suite_cli(tmp_path, data_root, suite, "--run-id", "s1")
    assert res.exit_code == 0, res.output
    run = tmp_path / "runs" / "s1"
    vqa = [json.loads(x) for x in (run / "vqa_rad" / "records.jsonl").read_text().splitlines()]
    assert len(vqa) == 10
    # stratified by vqa_rad's main sub-score (answer_type): 123 rows, closed/open in proportion
    samples = load_samples("vqa_rad", data_root)
    closed_share = sum(s.answer_type == "closed" for s in samples) / len(samples)
    assert sum(r["answer_type"] == "closed" for r in vqa) == round(10 * closed_share)
    medqa = (run / "medqa" / "records.jsonl").read_text().splitlines()
    assert len(medqa) == 4
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["benchmarks"]["medqa"]["subset"] == {"n": 4, "seed": 3, "stratify": None}
    assert manifest["config"]["suite"] == str(suite)
    # the same selection as the library function computes
    spec = SubsetSpec(10, 3)
    strata = [s.answer_type for s in samples]
    expected = [s.id for s in select_subset("vqa_rad", samples, spec, strata)]
    assert [r["sample_id"] for r in vqa] == expected


def test_suite_with_bench_runs_the_intersection(tmp_path: Path, data_root: Path) -> None:
    res = _suite_cli(tmp_path, data_root, "paper-table-2", "--bench", "medqa,vqa_rad")
    assert res.exit_code == 0, res.output
    (run,) = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["medqa"]
    res = _suite_cli(tmp_path, data_root, "paper-table-1", "--bench", "medqa")
    assert res.exit_code == 2 and "no benchmark in common" in res.output
    res = _suite_cli(tmp_path, data_root, "paper-table-2", "--bench", "medqaa")
    assert res.exit_code == 2 and "Did you mean medqa" in res.output


def test_run_suite_errors(tmp_path: Path, data_root: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nbenchmarks: [medqa, no_such_bench]\n")
    res = _suite_cli(tmp_path, data_root, bad)
    assert res.exit_code == 2 and "no_such_bench" in res.output
    res = _suite_cli(tmp_path, data_root, "nope")
    assert res.exit_code == 2 and "unknown suite" in res.output
    res = runner.invoke(app, ["list", "suites"])
    assert res.exit_code == 0 and "paper-table-1" in res.output
