"""Backend parity for real: the same tiny random Qwen2 through ``hf`` and through
``transformers serve`` + the ``openai`` backend, compared with ``medunieval compare``.

What was measured (docs/compare.md): the texts agree once the surrounding whitespace the hf
backend strips is stripped on both sides, so extracted answers and verdicts agree everywhere;
the server reports no token counts. Starting the server takes 15-40 s: ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parity_helpers import LIMIT, hf_run, preset, run, transformers_serve
from typer.testing import CliRunner

from medunieval.cli import app

pytestmark = pytest.mark.slow
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("openai")


def test_hf_and_transformers_serve_agree(tmp_path: Path) -> None:
    hf = hf_run(tmp_path)
    model = tmp_path / "tiny"
    with transformers_serve(tmp_path / "serve.log") as base_url:
        opts = {"base_url": base_url, "timeout_s": 120, "max_retries": 1, "concurrency": 1,
                "stream": True}  # fmt: skip
        serve = preset(tmp_path, "tiny-serve", {"model": str(model), "backend": "openai",
                                                "options": opts})  # fmt: skip
        run(serve, tmp_path / "data", tmp_path / "runs", "serve")
    res = CliRunner().invoke(
        app, ["compare", str(hf), str(tmp_path / "runs/serve"), "--format", "json"]
    )
    assert res.exit_code == 0, res.output  # same data and prompts: not refused
    bench = json.loads(res.stdout)["pairs"][0]["benchmarks"]["medqa"]
    assert bench["n"] == LIMIT
    agreement = bench["agreement"]
    assert agreement["response_stripped"] == 1.0, bench["disagreements"]
    assert agreement["extracted"] == agreement["verdict"] == 1.0
    assert bench["delta"] == 0.0 and bench["significant"] is False
    for diff in bench["disagreements"].values():  # only surrounding whitespace differs
        assert diff["kind"] == "response"
        assert diff["a"]["response"] == diff["b"]["response"].strip()
    assert agreement["completion_tokens"] is None  # transformers serve reports no usage
