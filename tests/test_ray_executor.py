"""``--executor ray`` with the driver owning all state: actors only generate, are denied the
driver's run directory and response store, and the result (records, store, summaries) is that
of a single process, even when an actor dies in the middle of its work."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from fake_chat_server import FakeChatServer
from typer.testing import CliRunner

from medunieval.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def answer(prompt: str) -> str:
    """A deterministic, varied answer per prompt (so records differ between samples)."""
    h = hashlib.sha256(prompt.encode()).digest()[0]
    return "yes" if "?" in prompt[-40:] and h % 2 else "ABCD"[h % 4]


def preset(tmp: Path, server: FakeChatServer) -> Path:
    path = tmp / "api.yaml"
    opts = {"base_url": server.base_url, "timeout_s": 10, "max_retries": 1, "concurrency": 2}
    path.write_text(json.dumps({"name": "fake", "model": "fake", "backend": "openai",
                                "options": opts}))  # fmt: skip
    return path


def run(tmp: Path, model: Path, data_root: Path, run_id: str, cache: Path, *extra: str):
    args = ["run", "--model", str(model), "--bench", "medqa,vqa_rad", "--data-dir",
            str(data_root), "--limit", "40", "--output", str(tmp / "runs"), "--run-id", run_id,
            "--cache", str(cache), *extra]  # fmt: skip
    return runner.invoke(app, args)


def comparable(run_dir: Path) -> tuple[dict, dict]:
    recs, summ = {}, {}
    for bench in ("medqa", "vqa_rad"):
        for line in (run_dir / bench / "records.jsonl").read_text().splitlines():
            r = json.loads(line)
            r["response"].pop("latency_s", None)
            recs[(bench, r["sample_id"])] = r
        summ[bench] = json.loads((run_dir / bench / "summary.json").read_text())
    return recs, summ


def store_rows(path: Path) -> dict[str, tuple[str, dict]]:
    db = sqlite3.connect(path)
    out = {}
    for key, fp, payload in db.execute("SELECT key, fingerprint, response FROM responses"):
        resp = json.loads(payload)
        resp.pop("latency_s", None)
        out[key] = (fp, resp)
    db.close()
    return out


def test_isolation_refuses_the_driver_paths(tmp_path: Path) -> None:
    """The audit hook every actor installs: the driver's run directory and store (with its WAL
    side files) cannot be opened, created, renamed into or connected to; other paths can."""
    run_dir, store, free = tmp_path / "run", tmp_path / "cache" / "s.sqlite", tmp_path / "free"
    for p in (run_dir, store.parent, free):
        p.mkdir()
    (run_dir / "records.jsonl").write_text("{}\n")
    code = f"""
import os, sqlite3, sys
from medunieval.distributed.isolation import deny_paths
deny_paths([{str(run_dir)!r}, {str(store)!r}])
def refused(fn):
    try:
        fn()
    except PermissionError:
        return True
    return False
checks = [
    refused(lambda: open({str(run_dir / "records.jsonl")!r})),
    refused(lambda: open({str(run_dir / "new.json")!r}, "w")),
    refused(lambda: sqlite3.connect({str(store)!r})),
    refused(lambda: open({str(store) + "-wal"!r}, "w")),
    refused(lambda: os.mkdir({str(run_dir / "sub")!r})),
    refused(lambda: os.rename({str(free / "x")!r}, {str(run_dir / "x")!r})),
    refused(lambda: os.listdir({str(run_dir)!r})),
]
open({str(free / "x")!r}, "w").write("ok")
sqlite3.connect({str(free / "own.sqlite")!r}).execute("CREATE TABLE t (a)")
print(checks)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([True] * 7)
    assert (free / "x").read_text() == "ok" and not (run_dir / "new.json").exists()


def test_requests_travel_with_their_image_bytes_not_the_dataset() -> None:
    """A lazy image opener may close over a whole dataset (embedded images in an Arrow table):
    what is sent to an actor holds the image's bytes alone, and a broken image keeps its
    opener so the actor reports the same per-sample error."""
    import pickle

    from medunieval.distributed.ray_executor import portable
    from medunieval.errors import SampleError
    from medunieval.types import GenParams, ImagePart, MediaRef, Message, Request, TextPart

    dataset = {"cells": [b"\x89PNG" + bytes([i % 256]) * 1000 for i in range(2000)]}  # ~2 MB

    def lazy_opener() -> bytes:
        return dataset["cells"][7]

    def broken() -> bytes:
        raise FileNotFoundError("gone")

    parts = (ImagePart(MediaRef("image", "t [image]", lazy_opener), "d1"),
             ImagePart(MediaRef("image", "missing.png", broken), "d2"), TextPart("q"))  # fmt: skip
    req = Request("1", "b", (Message("user", parts),), GenParams())
    sent = portable(req)
    assert sent.messages[0].content[0].ref.read_bytes() == dataset["cells"][7]
    assert sent.messages[0].content[0].digest == "d1" and sent.key("fp") == req.key("fp")
    assert len(pickle.dumps(sent.messages[0].content[0])) < 2000  # the image, not the table
    with pytest.raises(SampleError, match="missing_media"):
        sent.messages[0].content[1].ref.read_bytes()


@pytest.mark.slow
def test_ray_driver_owns_all_state_and_survives_a_dead_actor(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ray = pytest.importorskip("ray")
    from medunieval.distributed.ray_executor import GenerateActor, driver_paths
    from medunieval.engine import Engine, RunConfig

    with FakeChatServer(answer=answer) as server:
        model = preset(tmp_path, server)
        res = run(tmp_path, model, data_root, "one", tmp_path / "one.sqlite")
        assert res.exit_code == 0, res.output
        assert len(server.log) == 80
        single = Counter(e["prompt"] for e in server.log)
        server.log.clear()

        marker = tmp_path / "died"
        monkeypatch.setenv("MEDUNIEVAL_RAY_CHUNK", "6")
        monkeypatch.setenv("MEDUNIEVAL_FAULT_DIE_IN_CHUNK", "4")
        monkeypatch.setenv("MEDUNIEVAL_FAULT_MARKER", str(marker))
        ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False,
                 _node_ip_address="127.0.0.1")  # fmt: skip
        try:
            res = run(tmp_path, model, data_root, "ray", tmp_path / "ray.sqlite",
                      "--executor", "ray", "--data-parallel", "2")  # fmt: skip
            assert res.exit_code == 0, res.output
            assert marker.exists()  # an actor did die in the middle of a chunk

            # actors are denied what the driver writes: its run directory and its store
            cfg = RunConfig(model=str(model), benchmarks=["medqa"], output=tmp_path / "runs",
                            run_id="ray", cache=tmp_path / "ray.sqlite")  # fmt: skip
            deny = driver_paths(Engine(cfg))
            actor = ray.remote(GenerateActor).remote(cfg, deny)
            store_file = str(tmp_path / "ray.sqlite")
            assert "PermissionError" in ray.get(actor.can_open.remote(store_file))
            records = str(tmp_path / "runs" / "ray" / "medqa" / "records.jsonl")
            assert "PermissionError" in ray.get(actor.can_open.remote(records))
            assert ray.get(actor.can_open.remote(str(tmp_path / "actor-private.txt"))) is None

            # a run-stopping backend error inside an actor is the driver's one line
            server.rules = {"": ["401"] * 200}
            res = run(tmp_path, model, data_root, "auth", tmp_path / "auth.sqlite",
                      "--executor", "ray", "--data-parallel", "2")  # fmt: skip
            assert res.exit_code == 2 and "Traceback" not in res.output, res.output
            errors = [x for x in res.output.splitlines() if x.startswith("error:")]
            assert len(errors) == 1 and "HTTP 401" in errors[0], res.output
            server.rules = {}

            # an actor that cannot build its backend (here: the key's variable is not set)
            bad = tmp_path / "bad.yaml"
            opts = {"base_url": server.base_url, "api_key_env": "MUE_RAY_UNSET_KEY"}
            bad.write_text(json.dumps({"name": "bad", "model": "fake", "backend": "openai",
                                       "options": opts}))  # fmt: skip
            res = run(tmp_path, bad, data_root, "bad", tmp_path / "bad.sqlite",
                      "--executor", "ray")  # fmt: skip
            assert res.exit_code == 2 and "Traceback" not in res.output, res.output
            errors = [x for x in res.output.splitlines() if x.startswith("error:")]
            assert len(errors) == 1 and "could not load the model" in errors[0], res.output
            assert "MUE_RAY_UNSET_KEY" in errors[0]
        finally:
            ray.shutdown()

    # identical to one process: records, summaries and the response store
    assert comparable(tmp_path / "runs" / "ray") == comparable(tmp_path / "runs" / "one")
    assert store_rows(tmp_path / "ray.sqlite") == store_rows(tmp_path / "one.sqlite")
    assert not (tmp_path / "runs" / "ray" / "shards").exists()  # no shard runs on disk
    # the dead actor's unfinished chunk was generated again, nothing it had returned was: only
    # prompts of one chunk (at most 6) were sent twice
    again = Counter(e["prompt"] for e in server.log if e["behaviour"] == "ok")
    assert set(again) == set(single)
    twice = [p for p, n in again.items() if n > 1]
    assert 1 <= len(twice) < 6 and max(again.values()) == 2
    manifest = json.loads((tmp_path / "runs" / "ray" / "manifest.json").read_text())
    assert manifest["invocations"][0]["generated"] == 80
