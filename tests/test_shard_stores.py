"""Independent shards (separate machines) never share a SQLite store: each shard run has its
own, ``merge`` merges them into the merged run's store, and a store another host wrote to is
not written again (one warning, a store of this host's own instead)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fake_chat_server import FakeChatServer
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.store_hosts import recorded_hosts

runner = CliRunner()


def _preset(tmp: Path, server: FakeChatServer) -> Path:
    path = tmp / "api.yaml"
    opts = {"base_url": server.base_url, "timeout_s": 10, "max_retries": 1, "concurrency": 4}
    path.write_text(json.dumps({"name": "fake", "model": "fake", "backend": "openai",
                                "options": opts}))  # fmt: skip
    return path


def _args(model: Path, data_root: Path, out: Path, run_id: str, *extra: str) -> list[str]:
    return ["run", "--model", str(model), "--bench", "medqa", "--data-dir",
            str(data_root / "medqa"), "--limit", "30", "--output", str(out), "--run-id", run_id,
            *extra]  # fmt: skip


def _count(store: Path) -> int:
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    finally:
        db.close()


def test_three_shards_own_stores_merge_and_rerun_generates_nothing(
    tmp_path: Path, data_root: Path, monkeypatch
) -> None:
    out = tmp_path / "results" / "runs"
    with FakeChatServer(answer="B") as server:
        model = _preset(tmp_path, server)
        for i in range(3):  # three shard runs, each on its own "machine"
            monkeypatch.setenv("MEDUNIEVAL_HOSTNAME", f"node{i}")
            args = _args(model, data_root, out, "sh", "--num-shards", "3", "--shard-index", str(i))
            res = runner.invoke(app, args)
            assert res.exit_code == 0 and "warning" not in res.output, res.output
        monkeypatch.setenv("MEDUNIEVAL_HOSTNAME", "login")
        assert len(server.log) == 30
        shards = [out / f"sh-shard{i}of3" for i in range(3)]
        # each shard wrote its own store, recording its host; no shared store was created
        sizes = [_count(s / "responses.sqlite") for s in shards]
        assert sum(sizes) == 30 and all(sizes)
        assert [recorded_hosts(s / "responses.sqlite") for s in shards] == [
            ["node0"],
            ["node1"],
            ["node2"],
        ]
        assert not (tmp_path / "results" / "cache").exists()

        res = runner.invoke(app, ["merge", *map(str, shards), "--output", str(out / "sh")])
        assert res.exit_code == 0, res.output
        store = tmp_path / "results" / "cache" / "responses.sqlite"
        assert f"30 response(s) added to {store}" in res.output
        assert _count(store) == 30

        # a re-run of the merged run generates nothing, and neither does a fresh run of the
        # same requests (served from the merged store); the server sees no request
        res = runner.invoke(app, _args(model, data_root, out, "sh"))
        assert res.exit_code == 0 and "generated 0, from cache 0, already done 30" in res.output
        res = runner.invoke(app, _args(model, data_root, out, "fresh"))
        assert res.exit_code == 0 and "generated 0, from cache 30" in res.output, res.output
        assert len(server.log) == 30
        # merging again adds nothing new
        res = runner.invoke(app, ["merge", *map(str, shards), "--output", str(out / "sh")])
        assert res.exit_code == 0 and "response(s) added" not in res.output


def test_a_store_used_by_another_host_is_not_written_again(
    tmp_path: Path, data_root: Path, monkeypatch
) -> None:
    out = tmp_path / "runs"
    shared = tmp_path / "nfs" / "responses.sqlite"
    with FakeChatServer(answer="C") as server:
        model = _preset(tmp_path, server)
        monkeypatch.setenv("MEDUNIEVAL_HOSTNAME", "alpha")
        res = runner.invoke(app, _args(model, data_root, out, "a", "--cache", str(shared),
                                       "--limit", "5"))  # fmt: skip
        assert res.exit_code == 0 and "warning" not in res.output
        before = shared.read_bytes()
        assert recorded_hosts(shared) == ["alpha"] and _count(shared) == 5

        # host beta points a shard run and a plain run at the same file
        monkeypatch.setenv("MEDUNIEVAL_HOSTNAME", "beta")
        res = runner.invoke(app, _args(model, data_root, out, "b", "--cache", str(shared),
                                       "--num-shards", "2", "--shard-index", "0"))  # fmt: skip
        assert res.exit_code == 0, res.output
        text = " ".join(res.output.split())
        assert "used by another machine (alpha)" in text and text.count("warning") == 1
        own = out / "b-shard0of2" / "responses.sqlite"
        assert recorded_hosts(own) == ["beta"] and _count(own) > 0
        res = runner.invoke(app, _args(model, data_root, out, "c", "--cache", str(shared),
                                       "--limit", "5"))  # fmt: skip
        assert res.exit_code == 0 and "warning" not in res.output  # warned once per process
        assert recorded_hosts(shared.with_name("responses.beta.sqlite")) == ["beta"]
        # the shared store is exactly as alpha left it
        assert recorded_hosts(shared) == ["alpha"] and _count(shared) == 5
        assert shared.read_bytes() == before


@pytest.mark.slow
def test_three_concurrent_shard_processes_then_merge(tmp_path: Path, data_root: Path) -> None:
    """The same as three real processes at once (three "machines"), as a Slurm array runs."""
    out = tmp_path / "results" / "runs"
    root = Path(__file__).resolve().parents[1]
    with FakeChatServer(answer="B") as server:
        model = _preset(tmp_path, server)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "medunieval",
                 *_args(model, data_root, out, "sh", "--num-shards", "3", "--shard-index", str(i))],
                env={**os.environ, "PYTHONPATH": str(root), "MEDUNIEVAL_HOSTNAME": f"node{i}"},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            for i in range(3)
        ]
        for p in procs:
            output, _ = p.communicate(timeout=300)
            assert p.returncode == 0 and "warning" not in output, output
        shards = [out / f"sh-shard{i}of3" for i in range(3)]
        assert [recorded_hosts(s / "responses.sqlite") for s in shards] == [
            ["node0"], ["node1"], ["node2"]
        ]
        assert not (tmp_path / "results" / "cache").exists()
        res = runner.invoke(app, ["merge", *map(str, shards), "--output", str(out / "sh")])
        assert res.exit_code == 0 and "30 response(s) added" in res.output, res.output
        res = runner.invoke(app, _args(model, data_root, out, "fresh"))
        assert res.exit_code == 0 and "generated 0, from cache 30" in res.output, res.output
        assert len(server.log) == 30
