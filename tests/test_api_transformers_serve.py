"""The happy path against a real server: ``transformers serve`` on 127.0.0.1 serving a tiny
random text LM (Qwen2) and a tiny random LLaVA, both built offline, driven end to end through
``medunieval run --model <preset>`` with the openai backend: a text benchmark (medqa) and an
image benchmark (vqa_rad, the image sent as a base64 data URL).

``transformers serve`` (4.57) always answers chat completions with an event stream, so the
presets set ``stream: true``; without it the backend records a one-line error saying so.
Starting the server and loading the models takes 15-40 s on a loaded CPU, hence ``slow``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from parity_helpers import serve_process
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.tiny_models import build_tiny_llava, build_tiny_qwen2_lm

pytestmark = pytest.mark.slow
SERVER_PACKAGES = ("fastapi", "uvicorn", "openai")  # checked when the server starts, so the
# default suite deselects these slow tests instead of reporting a skip at collection

class Served:
    """A running ``transformers serve`` and the file its output goes to."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path, models: dict[str, Path]):
        self.proc, self.port, self.log, self.models = proc, port, log, models

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def posts(self) -> int:
        """Chat-completion requests the server has received (uvicorn's access log)."""
        return self.log.read_text(errors="replace").count("POST /v1/chat/completions")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    for package in SERVER_PACKAGES:
        pytest.importorskip(package)
    root = tmp_path_factory.mktemp("serve")
    models = {"lm": build_tiny_qwen2_lm(root / "lm"), "vlm": build_tiny_llava(root / "llava")}
    with serve_process(root / "serve.log", "info") as (proc, port):
        yield Served(proc, port, root / "serve.log", models)


def _preset(tmp: Path, served: Served, kind: str, **options: object) -> Path:
    opts = {"base_url": served.base_url, "timeout_s": 120, "max_retries": 1, "concurrency": 1,
            "stream": True, **options}  # fmt: skip
    path = tmp / f"serve-{kind}.yaml"
    path.write_text(json.dumps({"name": f"tiny-{kind}", "model": str(served.models[kind]),
                                "backend": "openai", "options": opts}))  # fmt: skip
    return path


def _run(tmp: Path, preset: Path, bench: str, data_root: Path, run_id: str):
    args = ["run", "--model", str(preset), "--bench", bench, "--data-dir", str(data_root),
            "--limit", "3", "--max-new-tokens", "8", "--output", str(tmp / "runs"),
            "--run-id", run_id]  # fmt: skip
    return CliRunner().invoke(app, args, catch_exceptions=False)


def _outputs(tmp: Path, run_id: str, bench: str) -> tuple[list[dict], dict]:
    bdir = tmp / "runs" / run_id / bench
    records = [json.loads(x) for x in (bdir / "records.jsonl").read_text().splitlines()]
    return records, json.loads((bdir / "summary.json").read_text())


@pytest.mark.parametrize(("kind", "bench"), [("lm", "medqa"), ("vlm", "vqa_rad")])
def test_benchmark_end_to_end(
    served: Served, tmp_path: Path, data_root: Path, kind: str, bench: str
) -> None:
    preset = _preset(tmp_path, served, kind)
    before = served.posts()
    res = _run(tmp_path, preset, bench, data_root, "serve")
    assert res.exit_code == 0, res.output
    records, summary = _outputs(tmp_path, "serve", bench)
    assert len(records) == 3
    for rec in records:
        resp = rec["response"]
        assert resp["error"] is None, (resp["error"], served.log.read_text()[-3000:])
        assert isinstance(resp["text"], str) and resp["finish_reason"] in ("stop", "length")
    assert summary["errors"] == 0
    assert summary["usage"]["responses"] == 3
    assert summary["usage"]["cost_usd"] is None  # no price table
    assert served.posts() - before == 3  # one request per sample, no retries

    # a second run of the same requests is answered from the response store
    res = _run(tmp_path, preset, bench, data_root, "again")
    assert res.exit_code == 0, res.output
    assert "generated 0, from cache 3" in res.output
    assert served.posts() - before == 3
    again, _ = _outputs(tmp_path, "again", bench)
    texts = {r["sample_id"]: r["response"]["text"] for r in records}
    assert {r["sample_id"]: r["response"]["text"] for r in again} == texts


def test_image_reaches_the_vision_model(served: Served, tmp_path: Path) -> None:
    """Greedy answers from the VLM depend on the image: the same question about two different
    pictures gets answers that are not all equal, so the data URL was decoded and encoded."""
    from medunieval.backends.openai_api import OpenAIBackend
    from medunieval.presets import ModelPreset
    from medunieval.types import GenParams, ImagePart, MediaRef, Message, Request, TextPart

    preset = ModelPreset(name="tiny-vlm", model=str(served.models["vlm"]), backend="openai",
                         options={"base_url": served.base_url, "stream": True,
                                  "max_retries": 0})  # fmt: skip
    from PIL import Image

    images = []
    for i, colour in enumerate([(250, 250, 250), (0, 0, 0), (200, 30, 30)]):
        path = tmp_path / f"img{i}.png"
        Image.new("RGB", (48, 48), colour).save(path)
        images.append(path)
    params = GenParams(max_new_tokens=6)
    reqs = [Request(str(i), "img", (Message("user", (ImagePart(MediaRef("image", str(p),
                    p.read_bytes), str(i)), TextPart("What is shown?"))),), params)
            for i, p in enumerate(images)]  # fmt: skip
    backend = OpenAIBackend.from_preset(preset, concurrency=1)
    answers = {req.sample_id: resp for req, resp in backend.generate(reqs)}
    assert all(r.error is None for r in answers.values()), answers
    assert len({r.text for r in answers.values()}) > 1


def test_non_streaming_request_is_answered_or_gets_a_clear_error(
    served: Served, tmp_path: Path, data_root: Path
) -> None:
    """transformers 5's server answers a plain (non-streamed) request; 4.x's answers only with
    an event stream, which must not be mistaken for an answer: a clear per-sample error."""
    import transformers

    before = served.posts()
    res = _run(tmp_path, _preset(tmp_path, served, "lm", stream=False), "medqa", data_root, "ns")
    assert res.exit_code == 0, res.output
    records, summary = _outputs(tmp_path, "ns", "medqa")
    assert served.posts() - before == 3  # one request each, not retried
    if int(transformers.__version__.split(".")[0]) >= 5:
        assert summary["errors"] == 0
        assert all(rec["response"]["text"] for rec in records)
        return
    assert summary["errors"] == 3
    for rec in records:
        assert rec["response"]["error"].startswith("malformed_response: ")
        assert "set `stream: true`" in rec["response"]["error"]
