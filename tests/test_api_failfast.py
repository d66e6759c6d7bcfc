"""The API backend under failure, through the CLI against a local server: a refused key stops
the run at once (exit 2), a server that fails everything stops it resumably (exit 3), a key an
HTTP header cannot carry is refused before any request, an echoed key is never stored, and an
oversized answer is never cached. Each stop is one line, no traceback, nothing written lost."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from fake_chat_server import FakeChatServer
from typer.testing import CliRunner

from medunieval.cli import app

runner = CliRunner()
SECRET = "sk-test-FAILFAST-4c3b2a"


def _preset(tmp: Path, server: FakeChatServer, **options: object) -> Path:
    opts = {"base_url": server.base_url, "api_key_env": "MUE_FF_KEY", "timeout_s": 2,
            "max_retries": 2, "concurrency": 4, **options}  # fmt: skip
    path = tmp / "api.yaml"
    path.write_text(json.dumps({"name": "fake-gpt", "model": "fake-gpt", "backend": "openai",
                                "options": opts}))  # fmt: skip
    return path


def _run(tmp: Path, preset: Path, data_root: Path, limit: int, run_id: str = "api"):
    args = ["run", "--model", str(preset), "--bench", "medqa", "--data-dir", str(data_root),
            "--limit", str(limit), "--output", str(tmp / "runs"), "--run-id", run_id,
            "--cache", str(tmp / "store.sqlite")]  # fmt: skip
    return runner.invoke(app, args)


def _records(tmp: Path, run_id: str = "api") -> dict[str, dict]:
    path = tmp / "runs" / run_id / "medqa" / "records.jsonl"
    return {r["sample_id"]: r for r in map(json.loads, path.read_text().splitlines())}


def _one_line(res, code: int, *needles: str) -> str:
    """The run stopped with ``code`` and one ``error:`` line holding ``needles``."""
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    lines = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, res.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _stored(tmp: Path) -> list[str]:
    db = sqlite3.connect(tmp / "store.sqlite")
    try:
        return [r for (r,) in db.execute("SELECT response FROM responses")]
    finally:
        db.close()


@pytest.mark.parametrize("status", ["401", "403"])
def test_a_refused_key_stops_the_run_at_once(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    monkeypatch.setenv("MUE_FF_KEY", SECRET)
    with FakeChatServer(answer="B") as server:
        preset = _preset(tmp_path, server)
        assert _run(tmp_path, preset, data_root, 3).exit_code == 0
        done = _records(tmp_path)
        server.rules = {"": [status] * 100}
        before = len(server.log)
        res = _run(tmp_path, preset, data_root, 30)
        line = _one_line(res, 2, f"HTTP {status}", "refused the key", "MUE_FF_KEY")
        assert SECRET not in res.output and SECRET not in line
        assert len(server.log) - before <= 4  # no more than were in flight: never retried
        assert _records(tmp_path) == done  # nothing written before is lost


def test_keys_a_header_cannot_carry_are_refused_before_any_request(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeChatServer() as server:
        preset = _preset(tmp_path, server)
        bad = [(SECRET + "\n", "line break"), ("sk-\r" + SECRET, "line break"),
               (SECRET + "é", "non-ASCII"), ("sk-\x07" + SECRET, "control")]  # fmt: skip
        for key, what in bad:
            monkeypatch.setenv("MUE_FF_KEY", key)
            res = _run(tmp_path, preset, data_root, 3)
            _one_line(res, 2, "MUE_FF_KEY", what)
            assert SECRET not in res.output
        assert server.log == []


@pytest.mark.parametrize("failure", ["429", "silent"])
def test_a_server_that_fails_everything_stops_resumably(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    monkeypatch.setenv("MUE_FF_KEY", SECRET)
    with FakeChatServer(answer="C") as server:
        fast = _preset(tmp_path, server, timeout_s=0.3, max_retries=6,
                       abort_after_failures=6, abort_after_s=0.8)  # fmt: skip
        assert _run(tmp_path, fast, data_root, 4).exit_code == 0
        done = _records(tmp_path)
        behaviour = {"429": ("429", 0.05), "silent": ("sleep", 5.0)}[failure]
        server.rules = {"": [behaviour] * 1000}
        t0 = time.monotonic()
        res = _run(tmp_path, fast, data_root, 20)
        line = _one_line(res, 3, "failed", "attempts in a row", "Re-run the same command")
        assert time.monotonic() - t0 < 12  # at these limits; the defaults are 10 and 120 s
        assert SECRET not in line
        recs = _records(tmp_path)
        assert {k: recs[k] for k in done} == done  # nothing written before is lost
        assert len(recs) < 20  # the samples it could not answer have no record ...
        kinds = {r["response"]["error"].split(":")[0] for r in recs.values()
                 if r["response"]["error"]}  # fmt: skip
        assert kinds <= {"rate_limited", "timeout", "server_error"}  # ... or gave up, retried

        server.rules = {}  # the server is back: the same command resumes
        res = _run(tmp_path, fast, data_root, 20)
        assert res.exit_code == 0, res.output
        assert "already done 4" in res.output
        recs = _records(tmp_path)
        assert len(recs) == 20 and all(r["response"]["error"] is None for r in recs.values())


def test_an_echoed_key_is_redacted_and_an_oversized_answer_never_cached(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUE_FF_KEY", SECRET)
    with FakeChatServer(answer="x" * 1_000_000) as server:  # a 1 MB answer (the cap is 200k)
        server.rules = {"": ["echo_key"] * 2}
        preset = _preset(tmp_path, server, concurrency=1)
        assert _run(tmp_path, preset, data_root, 4).exit_code == 3  # 2 oversized: exit policy
        recs = _records(tmp_path)
        echoed = [r for r in recs.values() if r["response"]["text"]]
        assert len(echoed) == 2
        assert all("You sent me ***, the answer is B" == r["response"]["text"] for r in echoed)
        big = [r for r in recs.values() if r["response"]["error"]]
        assert len(big) == 2 and all(
            r["response"]["error"].startswith("oversized_output") for r in big
        )
        assert len(_stored(tmp_path)) == 2  # only the two real answers were stored
        # a new run of the same requests: the answers come from the store, the oversized
        # ones are asked again
        before = len(server.log)
        res = _run(tmp_path, preset, data_root, 4, run_id="again")
        assert res.exit_code == 3 and "generated 2, from cache 2" in res.output, res.output
        assert len(server.log) - before == 2
        # an oversized answer a store holds from an older version is not served either
        from medunieval.store import ResponseStore
        from medunieval.types import Response

        store = ResponseStore(tmp_path / "store.sqlite")
        store.put_many((r["request_key"], "fp", Response(text="y" * 300_000)) for r in big)
        store.close()
        res = _run(tmp_path, preset, data_root, 4, run_id="third")
        assert res.exit_code == 3 and "generated 2, from cache 2" in res.output, res.output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
