"""Shards, merge and data-parallel workers (Ray: test_ray_executor.py): identical results to a
single process, completeness checks, no double counting, worker death without regeneration."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import gold_response, load_samples, replay_cli, write_predictions, wrong_response
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.distributed.shards import select_shard, shard_of

runner = CliRunner()
BENCHES = ["medqa", "vqa_rad"]


@dataclass
class _S:
    id: str


def test_shards_are_deterministic_complete_and_order_free() -> None:
    items = [_S(str(i)) for i in range(1000)]
    shards = [select_shard("b", items, 4, i) for i in range(4)]
    assert sorted(s.id for sh in shards for s in sh) == sorted(s.id for s in items)  # a partition
    assert all(200 < len(sh) < 300 for sh in shards)  # balanced
    shuffled = items[:]
    random.Random(0).shuffle(shuffled)
    assert {s.id for s in select_shard("b", shuffled, 4, 2)} == {s.id for s in shards[2]}
    assert shard_of("b", "17", 4) == shard_of("b", "17", 4)
    assert [shard_of("other", s.id, 4) for s in items] != [shard_of("b", s.id, 4) for s in items]


@pytest.fixture(scope="module")
def preds(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    rows = []
    for bench in BENCHES:
        for i, s in enumerate(load_samples(bench, data_root)):
            if i == 5:
                continue  # one id without a prediction: an error record, identical everywhere
            rows.append((bench, s.id, gold_response(s) if i % 3 else wrong_response(s)))
    return write_predictions(tmp_path_factory.mktemp("preds") / "p.jsonl", rows)


def _comparable(run: Path) -> tuple[dict, dict]:
    """Records by (benchmark, id) without timing fields, and summaries without the generation
    counters (which legitimately differ: a shard run reports its own)."""
    recs, summ = {}, {}
    for bench in BENCHES:
        for line in (run / bench / "records.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["response"]:
                r["response"].pop("latency_s", None)
            recs[(bench, r["sample_id"])] = r
        s = json.loads((run / bench / "summary.json").read_text())
        s.pop("generation")
        summ[bench] = s
    return recs, summ


def _run(tmp: Path, preds: Path, data_root: Path, run_id: str, *extra: object):
    return replay_cli(tmp, preds, BENCHES, *extra, data_dir=data_root, run_id=run_id)


def _failed(run: Path) -> int:
    """Samples whose (last) record is an error: they are retried on resume, by design."""
    last = {}
    for b in BENCHES:
        for x in (run / b / "records.jsonl").read_text().splitlines():
            r = json.loads(x)
            last[(b, r["sample_id"])] = r["response"]["error"] is not None
    return sum(last.values())


def _ids_in_order(run: Path, bench: str) -> list[str]:
    lines = (run / bench / "records.jsonl").read_text().splitlines()
    return [json.loads(x)["sample_id"] for x in lines]


def test_one_process_shards_merge_and_data_parallel_are_identical(
    tmp_path: Path, preds: Path, data_root: Path
) -> None:
    assert _run(tmp_path, preds, data_root, "one").exit_code == 0
    one = _comparable(tmp_path / "runs" / "one")
    assert len(one[0]) == 183 and one[1]["medqa"]["errors"] == 1

    for i in range(3):
        res = _run(tmp_path, preds, data_root, "sh", "--num-shards", "3", "--shard-index", str(i))
        assert res.exit_code == 0, res.output
    shards = [tmp_path / "runs" / f"sh-shard{i}of3" for i in range(3)]
    sizes = [len(_ids_in_order(s, "medqa")) for s in shards]
    assert sum(sizes) == 60 and all(sizes)
    res = runner.invoke(app, ["merge", *map(str, shards), "--output", str(tmp_path / "merged")])
    assert res.exit_code == 0, res.output
    assert _comparable(tmp_path / "merged") == one
    # records in dataset order, like the single process; the manifest says where they came from
    data_order = [s.id for s in load_samples("medqa", data_root)]
    assert _ids_in_order(tmp_path / "merged", "medqa") == data_order
    manifest = json.loads((tmp_path / "merged" / "manifest.json").read_text())
    assert [m["shard_index"] for m in manifest["merged_from"]] == [0, 1, 2]
    assert manifest["benchmarks"]["medqa"]["n_samples"] == 60

    res = _run(tmp_path, preds, data_root, "dp", "--data-parallel", "2")
    assert res.exit_code == 0, res.output
    assert _comparable(tmp_path / "runs" / "dp") == one
    assert len(list((tmp_path / "runs" / "dp" / "shards").iterdir())) == 8  # 2 workers x 4
    run_summary = json.loads((tmp_path / "runs" / "dp" / "summary.json").read_text())
    assert set(run_summary["benchmarks"]) == set(BENCHES)


def test_merge_checks(tmp_path: Path, preds: Path, data_root: Path) -> None:
    for i in range(3):
        assert _run(tmp_path, preds, data_root, "sh", "--num-shards", "3",
                    "--shard-index", str(i)).exit_code == 0  # fmt: skip
    s = [str(tmp_path / "runs" / f"sh-shard{i}of3") for i in range(3)]
    out = tmp_path / "m"
    res = runner.invoke(app, ["merge", s[0], s[2], "--output", str(out)])
    assert res.exit_code == 1 and "shard(s) [1] not given" in res.output
    assert "sample(s) without a record" in res.output and not out.exists()  # nothing written
    res = runner.invoke(app, ["merge", s[0], s[2], "--output", str(out), "--allow-incomplete"])
    assert res.exit_code == 0 and "incomplete" in res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["incomplete"]["shards_missing"] == [1]
    res = runner.invoke(app, ["merge", s[0], s[0], s[1], s[2], "--output", str(tmp_path / "d")])
    assert res.exit_code == 2 and "given twice" in res.output
    # a shard from another configuration (other generation parameters) is refused
    assert _run(tmp_path, preds, data_root, "other", "--num-shards", "3", "--shard-index", "1",
                "--max-new-tokens", "7").exit_code == 0  # fmt: skip
    other = str(tmp_path / "runs" / "other-shard1of3")
    res = runner.invoke(app, ["merge", s[0], other, s[2], "--output", str(tmp_path / "x")])
    assert res.exit_code == 2 and "not shards of one run" in res.output
    assert _run(tmp_path, preds, data_root, "plain").exit_code == 0
    res = runner.invoke(app, ["merge", str(tmp_path / "runs" / "plain"), "--output",
                              str(tmp_path / "y")])  # fmt: skip
    assert res.exit_code == 2 and "num-shards" in res.output
    res = runner.invoke(app, ["merge", *s, "--output", str(tmp_path / "runs" / "plain")])
    assert res.exit_code == 2 and "not a merge" in res.output  # never overwrites a real run
    res = runner.invoke(app, ["merge", *s, "--output", str(out)])  # re-merging a merge is fine
    assert res.exit_code == 0, res.output


def test_bad_shard_options(tmp_path: Path, preds: Path, data_root: Path) -> None:
    res = _run(tmp_path, preds, data_root, "b", "--num-shards", "2", "--shard-index", "2")
    assert res.exit_code == 2 and "--shard-index must be in 0..1" in res.output
    res = _run(tmp_path, preds, data_root, "b", "--num-shards", "2", "--data-parallel", "2")
    assert res.exit_code == 2 and "do not combine" in res.output
    res = _run(tmp_path, preds, data_root, "b", "--executor", "slurm")
    assert res.exit_code == 2 and "--executor must be local or ray" in res.output


def test_dead_worker_is_replaced_and_nothing_regenerated(
    tmp_path: Path, preds: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _run(tmp_path, preds, data_root, "one").exit_code == 0
    marker = tmp_path / "died"
    monkeypatch.setenv("MEDUNIEVAL_FAULT_DIE_AFTER_SHARD", "3")
    monkeypatch.setenv("MEDUNIEVAL_FAULT_MARKER", str(marker))
    res = _run(tmp_path, preds, data_root, "dp", "--data-parallel", "2")
    assert res.exit_code == 0, res.output
    assert marker.exists()  # a worker did die after finishing shard 3
    assert _comparable(tmp_path / "runs" / "dp") == _comparable(tmp_path / "runs" / "one")
    shard3 = next((tmp_path / "runs" / "dp" / "shards").glob("*-shard3of8"))
    runs = json.loads((shard3 / "manifest.json").read_text())["invocations"]
    assert len(runs) == 2  # the shard was given out again ...
    # ... and only its failed records (the id without a prediction) were retried
    assert runs[1]["generated"] == _failed(shard3) and runs[1]["skipped"] > 0
    assert runs[1]["skipped"] + runs[1]["generated"] == runs[0]["generated"]
