"""The openai backend against a real `transformers serve` (started on 127.0.0.1 by the test,
serving a tiny random Qwen2 built offline), end to end through the CLI.

`transformers serve` (4.57) always answers chat completions as server-sent events, so the
preset sets `stream: true`. Vision models could not be served here: the server loads
`AutoProcessor`, whose video part needs torchvision, which does not install beside the CPU
torch wheel; image requests are tested against tests/fake_chat_server.py instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.tiny_models import build_tiny_qwen2_lm

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    exe = shutil.which("transformers")
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    if exe is None:
        pytest.skip("the transformers CLI is not installed")
    model = build_tiny_qwen2_lm(tmp_path_factory.mktemp("tiny") / "qwen2")
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--force_model",
             str(model), "--device", "cpu", "--dtype", "float32"],
            stdout=fh, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited: {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("transformers serve did not start within 120 s")
        yield f"http://127.0.0.1:{port}/v1", str(model)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow  # ~20-40 s: the server process imports torch and transformers
def test_text_benchmark_through_transformers_serve(served, tmp_path: Path, data_root: Path):
    base_url, model = served
    preset = tmp_path / "served.yaml"
    preset.write_text(json.dumps({
        "name": "tiny-served", "model": model, "backend": "openai",
        # one at a time: without --continuous_batching, concurrent requests get HTTP 500
        "options": {"base_url": base_url, "stream": True, "concurrency": 1, "timeout_s": 120},
    }))  # fmt: skip
    args = ["run", "--model", str(preset), "--bench", "medqa", "--data-dir", str(data_root),
            "--limit", "3", "--max-new-tokens", "4", "--output", str(tmp_path / "runs"),
            "--run-id", "ts"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "runs/ts/medqa/records.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    assert len(recs) == 3
    assert [r["response"]["error"] for r in recs] == [None] * 3, recs[0]["response"]
    assert all(r["response"]["text"] for r in recs), [r["response"] for r in recs]
    assert all(r["response"]["finish_reason"] in ("stop", "length") for r in recs)
    res = runner.invoke(app, [*args[:-1], "ts2"])  # answered from the response store
    assert res.exit_code == 0 and "generated 0, from cache 3" in res.output
