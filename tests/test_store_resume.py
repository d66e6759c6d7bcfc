"""Response store, run-directory crash safety, and kill-and-resume with a real model process."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medunieval.rundir import RunDir
from medunieval.store import ResponseStore
from medunieval.types import GenParams, Message, Record, Request, Response, TextPart


def _writer(path: str, start: int, n: int) -> None:
    store = ResponseStore(Path(path))
    for i in range(start, start + n, 10):
        store.put_many((f"k{j}", "fp", Response(text=f"t{j}")) for j in range(i, i + 10))
    store.close()


def test_store_round_trip_skips_errors(tmp_path):
    store = ResponseStore(tmp_path / "s.sqlite")
    n = store.put_many(
        [
            ("a", "fp", Response(text="x", prompt_tokens=3)),
            ("b", "fp", Response(text=None, error="oom: boom")),
        ]
    )
    assert n == 1
    got = store.get_many(["a", "b", "c"])
    assert list(got) == ["a"] and got["a"].text == "x" and got["a"].cached
    assert got["a"].prompt_tokens == 3
    assert store.stats() == {"fp": 1}


def test_store_is_safe_under_concurrent_writers(tmp_path):
    path = tmp_path / "s.sqlite"
    ResponseStore(path).close()
    procs = [
        mp.get_context("spawn").Process(target=_writer, args=(str(path), k * 200, 200))
        for k in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = ResponseStore(path)
    assert len(store.keys()) == 600
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_request_key_depends_on_content_not_on_sample_id():
    def req(sid: str, text: str, tokens: int = 8) -> Request:
        return Request(sid, "b", (Message("user", (TextPart(text),)),), GenParams(tokens))

    assert req("1", "hi").key("m") == req("2", "hi").key("m")
    assert req("1", "hi").key("m") != req("1", "hi!").key("m")
    assert req("1", "hi").key("m") != req("1", "hi", 9).key("m")
    assert req("1", "hi").key("m") != req("1", "hi").key("other-model")


def test_partial_last_line_is_dropped_and_appends_stay_valid(tmp_path):
    rd = RunDir(tmp_path / "run")
    rec = Record("s1", "b", "A", "mcq", "k", "p", Response(text="A"))
    rd.append_records("b", [rec])
    with rd.records_path("b").open("a") as fh:
        fh.write('{"sample_id": "s2", "bench')  # a crash mid-append
    assert [r.sample_id for r in rd.read_records("b")] == ["s1"]
    rd.repair_tail("b")
    rd.append_records("b", [Record("s3", "b", "B", "mcq", "k3", "p", Response(text="B"))])
    assert [r.sample_id for r in rd.read_records("b")] == ["s1", "s3"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "medunieval", "run", *args]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory) -> Path:
    from medunieval.tiny_models import build_tiny_qwen2_lm

    return build_tiny_qwen2_lm(tmp_path_factory.mktemp("tiny-lm") / "model")


def test_kill_and_resume_regenerates_nothing_and_matches_an_uninterrupted_run(
    tmp_path, data_root, tiny_lm
):
    common = [
        "--model",
        str(tiny_lm),
        "--backend",
        "hf",
        "--bench",
        "medqa",
        "--data-dir",
        str(data_root / "medqa"),
        "--batch-size",
        "1",
        "--max-new-tokens",
        "48",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "COLUMNS": "200"}
    ref = subprocess.run(
        _cli(
            *common,
            "--output",
            str(tmp_path / "ref"),
            "--run-id",
            "r",
            "--cache",
            str(tmp_path / "ref.sqlite"),
        ),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ref.returncode == 0, ref.stderr

    args = _cli(
        *common,
        "--output",
        str(tmp_path / "runs"),
        "--run-id",
        "r",
        "--cache",
        str(tmp_path / "c.sqlite"),
    )
    records = tmp_path / "runs" / "r" / "medqa" / "records.jsonl"
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if records.exists() and records.read_text().count("\n") >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    store = sqlite3.connect(tmp_path / "c.sqlite")
    stored_before = {k for (k,) in store.execute("SELECT key FROM responses")}
    store.close()
    done_before = records.read_text().count("\n")
    assert 0 < done_before < 60

    again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    lines = [json.loads(x) for x in records.read_text().splitlines()]
    appended = lines[done_before:]
    regenerated = {r["request_key"] for r in appended if not r["response"]["cached"]}
    assert not regenerated & stored_before, "a stored response was generated again"
    assert len({r["sample_id"] for r in lines}) == 60 == len(lines)

    ref_dir, run_dir = tmp_path / "ref" / "r" / "medqa", tmp_path / "runs" / "r" / "medqa"
    ref_sum = json.loads((ref_dir / "summary.json").read_text())
    got_sum = json.loads((run_dir / "summary.json").read_text())
    assert got_sum["profiles"] == ref_sum["profiles"] and got_sum["n"] == ref_sum["n"]
    ref_text = {
        json.loads(x)["sample_id"]: json.loads(x)["response"]["text"]
        for x in (ref_dir / "records.jsonl").read_text().splitlines()
    }
    assert {r["sample_id"]: r["response"]["text"] for r in lines} == ref_text
    manifest = json.loads((tmp_path / "runs" / "r" / "manifest.json").read_text())
    assert manifest["invocations"][-1]["skipped"] == done_before
