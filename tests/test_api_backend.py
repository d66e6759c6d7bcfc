"""The OpenAI-compatible backend against a real local HTTP server (tests/fake_chat_server.py)
through the official client: retries, Retry-After, timeouts, dropped connections, malformed
and empty answers, 4xx, resume of only what failed, cost, and the key kept secret."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from conftest import load_samples
from fake_chat_server import FakeChatServer
from typer.testing import CliRunner

from medunieval.backends.openai_api import OpenAIBackend, backoff_delay, to_messages
from medunieval.cli import app
from medunieval.errors import ConfigError
from medunieval.presets import ModelPreset
from medunieval.types import GenParams, ImagePart, MediaRef, Message, Request, TextPart

runner = CliRunner()
SECRET = "sk-test-SECRET-9f8e7d"


def _preset(tmp: Path, server: FakeChatServer, **options: object) -> Path:
    opts = {"base_url": server.base_url, "api_key_env": "MUE_TEST_KEY", "timeout_s": 0.6,
            "max_retries": 2, "concurrency": 4,
            "price": {"prompt_per_1m": 2.0, "completion_per_1m": 8.0}, **options}  # fmt: skip
    path = tmp / "api.yaml"
    path.write_text(json.dumps({"name": "fake-gpt", "model": "fake-gpt", "backend": "openai",
                                "options": opts}))  # fmt: skip
    return path


def _run(tmp: Path, preset: Path, data_root: Path, *extra: str):
    args = ["run", "--model", str(preset), "--bench", "medqa", "--data-dir", str(data_root),
            "--limit", "10", "--output", str(tmp / "runs"), "--run-id", "api", *extra]  # fmt: skip
    args += ["--max-error-rate", "1"]  # failures are these tests' point (exit policy: elsewhere)
    return runner.invoke(app, args)


def _records(tmp: Path) -> dict[str, dict]:
    lines = (tmp / "runs" / "api" / "medqa" / "records.jsonl").read_text().splitlines()
    return {r["sample_id"]: r for r in map(json.loads, lines)}  # last record per id wins


def test_faults_retries_resume_cost_and_secret(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUE_TEST_KEY", SECRET)
    qs = {s.id: s.question[:60] for s in load_samples("medqa", data_root)[:10]}
    with FakeChatServer(answer="A") as server:
        server.rules = {
            qs["0"]: [("429", 0.3)],
            qs["1"]: ["500"],
            qs["2"]: ["malformed"],
            qs["3"]: ["empty"],
            qs["4"]: ["drop"],
            qs["5"]: [("sleep", 2.0)],  # longer than timeout_s: a timeout, then a retry
            qs["6"]: [("400", "image too big for this deployment")],
            qs["7"]: ["500", "500", "500"],  # one more than max_retries allows
        }
        t0 = time.monotonic()
        res = _run(tmp_path, _preset(tmp_path, server), data_root)
        assert res.exit_code == 0, res.output
        assert time.monotonic() - t0 < 30  # nothing hangs
        recs = _records(tmp_path)
        ok = [i for i in map(str, range(10)) if recs[i]["response"]["error"] is None]
        assert ok == ["0", "1", "2", "3", "4", "5", "8", "9"]
        assert recs["6"]["response"]["error"].startswith("bad_request: HTTP 400")
        assert "image too big for this deployment" in recs["6"]["response"]["error"]
        assert recs["7"]["response"]["error"].startswith("server_error: HTTP 500")
        assert "gave up after 2 retries" in recs["7"]["response"]["error"]
        # retries as configured: one retry each for 0-5, none for the 400, 1 + 2 for sample 7
        for i, n in {"0": 2, "1": 2, "2": 2, "3": 2, "4": 2, "5": 2, "6": 1, "7": 3}.items():
            assert len(server.requests_for(qs[i])) == n, i
        first, second = server.requests_for(qs["0"])
        assert second["t"] - first["t"] >= 0.3  # Retry-After honoured
        assert all(e["auth"] == f"Bearer {SECRET}" for e in server.log)
        assert 1 < server.max_in_flight <= 4  # the preset's concurrency bounds it
        assert recs["0"]["response"]["prompt_tokens"] == 100
        summary = json.loads((tmp_path / "runs/api/medqa/summary.json").read_text())
        assert summary["usage"]["responses"] == 8
        assert summary["usage"]["cost_usd"] == pytest.approx(8 * (100 * 2 + 5 * 8) / 1e6)
        assert summary["errors"] == 2

        # a re-run sends only what failed (samples 6 and 7); the rest comes from the records
        before = len(server.log)
        res = _run(tmp_path, _preset(tmp_path, server), data_root)
        assert res.exit_code == 0, res.output
        again = server.log[before:]
        assert len(again) == 2
        assert {i for i in qs for e in again if qs[i] in e["prompt"]} == {"6", "7"}
        assert all(r["response"]["error"] is None for r in _records(tmp_path).values())
        # and a new run of the same requests is answered from the response store
        before = len(server.log)
        res = _run(tmp_path, _preset(tmp_path, server), data_root, "--run-id", "api2")
        assert res.exit_code == 0 and len(server.log) == before
        assert "generated 0, from cache 10" in res.output

    # the key is nowhere: not in records, summaries, manifest, the store, nor the output
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in res.output


def test_missing_key_and_concurrency_flag(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MUE_TEST_KEY", raising=False)
    with FakeChatServer() as server:
        res = _run(tmp_path, _preset(tmp_path, server), data_root)
        assert res.exit_code == 2 and "MUE_TEST_KEY" in res.output and "not set" in res.output
        monkeypatch.setenv("MUE_TEST_KEY", SECRET)
        server.latency_s = 0.3
        res = _run(tmp_path, _preset(tmp_path, server), data_root, "--concurrency", "3")
        assert res.exit_code == 0, res.output
        assert server.max_in_flight == 3  # concurrent, and bounded by --concurrency


def test_a_server_that_never_answers_does_not_hang(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUE_TEST_KEY", SECRET)
    with FakeChatServer() as server:
        server.rules = {"": [("sleep", 3.0)] * 100}
        t0 = time.monotonic()
        res = _run(tmp_path, _preset(tmp_path, server, timeout_s=0.3, max_retries=1),
                   data_root, "--limit", "3")  # fmt: skip
        assert res.exit_code == 0, res.output
        assert time.monotonic() - t0 < 15
        recs = _records(tmp_path)
        assert all(r["response"]["error"].startswith("timeout:") for r in recs.values())


def test_backoff_and_message_building(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(0)
    assert backoff_delay(1, 2.5, rng) == 2.5 and backoff_delay(1, 999, rng) == 120.0
    delays = [backoff_delay(a, None, rng) for a in (1, 2, 3, 10) for _ in range(50)]
    assert all(0 <= d <= 30 for d in delays) and max(delays[:50]) <= 1.0

    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    data = buf.getvalue()
    ref = MediaRef("image", "a.png", lambda: data)

    class Frames:
        type = "video"
        ref = MediaRef("video", "clip.mp4", lambda: b"x")

        def frames(self):
            return [Image.new("RGB", (8, 8))] * 3

    req = Request("1", "b", (
        Message("system", (TextPart("sys"),)),
        Message("user", (ImagePart(ref, "d"), TextPart("q1"))),
        Message("assistant", (TextPart("a1"),)),
        Message("user", (Frames(), TextPart("q2"))),
    ), GenParams())  # fmt: skip
    msgs = to_messages(req, max_image_bytes=10**6, max_images=10)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert len(msgs[3]["content"]) == 4  # 3 frames + text
    from medunieval.errors import SampleError

    with pytest.raises(SampleError, match="max_images"):
        to_messages(req, max_image_bytes=10**6, max_images=3)
    with pytest.raises(SampleError, match="max_image_bytes"):
        to_messages(req, max_image_bytes=10, max_images=10)
    monkeypatch.setenv("K", "s3cr3t")
    b = OpenAIBackend.from_preset(
        ModelPreset(name="x", model="m", backend="openai", options={"api_key_env": "K"})
    )
    assert b.redact("failed with key s3cr3t") == "failed with key ***"
    assert "s3cr3t" not in b.fingerprint()
    with pytest.raises(ConfigError, match="concurrency"):
        OpenAIBackend.from_preset(ModelPreset(name="x", model="m"), concurrency=0)


def test_image_benchmark_sends_images(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUE_TEST_KEY", SECRET)
    with FakeChatServer(answer="yes") as server:
        args = [
            "run",
            "--model",
            str(_preset(tmp_path, server)),
            "--bench",
            "vqa_rad",
            "--data-dir",
            str(data_root),
            "--limit",
            "3",
            "--output",
            str(tmp_path / "r"),
        ]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        assert len(server.log) == 3
        for entry in server.log:
            content = entry["body"]["messages"][-1]["content"]
            assert content[0]["type"] == "image_url"
            assert content[0]["image_url"]["url"].startswith("data:image/")
            assert content[1]["type"] == "text" and content[1]["text"] == entry["prompt"]


def test_streamed_answers_and_event_streams(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stream: true`` joins the chunks (usage from the last one), bounds the whole answer by
    ``timeout_s`` even while chunks keep coming, and retries a stream without choices; without
    it, an event-stream body is one clear error, not retried."""
    monkeypatch.setenv("MUE_TEST_KEY", SECRET)
    qs = {s.id: s.question[:60] for s in load_samples("medqa", data_root)[:4]}
    with FakeChatServer(answer="The answer is B") as server:
        server.rules = {qs["0"]: [("trickle", 10)], qs["1"]: ["empty"]}
        res = _run(tmp_path, _preset(tmp_path, server, stream=True), data_root, "--limit", "4")
        assert res.exit_code == 0, res.output
        recs = _records(tmp_path)
        assert all(r["response"]["error"] is None for r in recs.values()), recs
        assert {r["response"]["text"] for r in recs.values()} == {"The answer is B"}
        assert recs["2"]["response"]["prompt_tokens"] == 100
        assert recs["2"]["response"]["finish_reason"] == "stop"
        assert server.requests_for(qs["0"])[0]["body"]["stream"] is True
        assert [len(server.requests_for(qs[i])) for i in "0123"] == [2, 2, 1, 1]

        server.rules = {"": ["sse"] * 10}  # other max_new_tokens: requests not stored yet
        before = len(server.log)
        res = _run(tmp_path, _preset(tmp_path, server), data_root, "--limit", "2",
                   "--run-id", "nostream", "--max-new-tokens", "7")  # fmt: skip
        assert res.exit_code == 0, res.output
        lines = (tmp_path / "runs/nostream/medqa/records.jsonl").read_text().splitlines()
        errors = [json.loads(x)["response"]["error"] for x in lines]
        assert all(e.startswith("malformed_response:") and "stream: true" in e for e in errors)
        assert len(server.log) - before == 2


def test_a_failing_part_and_an_abandoned_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected per-sample exception is that sample's error record (the other workers go
    on); a caller that stops reading stops the sending."""

    class BrokenVideo:
        type = "video"
        ref = MediaRef("video", "clip.mp4", lambda: b"x")

        def frames(self):
            raise RuntimeError("decoder exploded")

    def req(i: int, part: object = None) -> Request:
        parts = (TextPart(f"question {i}"),) if part is None else (part, TextPart(f"q {i}"))
        return Request(str(i), "b", (Message("user", parts),), GenParams())

    with FakeChatServer(latency_s=0.2) as server:
        preset = ModelPreset(name="x", model="m", backend="openai",
                             options={"base_url": server.base_url, "max_retries": 0})  # fmt: skip
        backend = OpenAIBackend.from_preset(preset, concurrency=1)
        out = {r.sample_id: resp for r, resp in backend.generate([req(0, BrokenVideo()), req(1)])}
        assert out["0"].error == "backend_error: RuntimeError: decoder exploded"
        assert out["1"].error is None and len(server.log) == 1

        backend = OpenAIBackend.from_preset(preset, concurrency=2)
        gen = backend.generate([req(i) for i in range(2, 40)])
        next(gen)
        gen.close()  # the requests in flight finish in the background, nothing new is sent
        time.sleep(0.6)
        sent = len(server.log) - 1
        time.sleep(0.4)
        assert len(server.log) - 1 == sent and sent <= 4
