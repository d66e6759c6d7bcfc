"""Backend parity runs: the same tiny random Qwen2 (head_dim 64, the size vLLM's CPU kernels
accept) on the same medqa fixture rows through ``hf``, ``transformers serve`` + ``openai`` and
``vllm``. Used by tests/test_parity.py (slow), tests/test_parity_vllm.py (vllm stage) and, as a
script, by .ci/vllm_stage.sh to make the hf run in the main environment:

    python tests/parity_helpers.py hf-run DIR    # DIR/data, DIR/tiny, DIR/runs/hf
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LIMIT = 16
MAX_NEW_TOKENS = 16
START_TIMEOUT_S = 180


def run(preset: Path, data_root: Path, out: Path, run_id: str, *extra: str) -> None:
    """``medunieval run`` in-process on the medqa fixture rows; fails loudly."""
    from typer.testing import CliRunner

    from medunieval.cli import app

    args = ["run", "--model", str(preset), "--bench", "medqa", "--data-dir", str(data_root),
            "--limit", str(LIMIT), "--max-new-tokens", str(MAX_NEW_TOKENS), "--output", str(out),
            "--run-id", run_id, "--no-cache", *extra]  # fmt: skip
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output


def preset(folder: Path, name: str, body: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps({"name": name, **body}))
    return path


def hf_run(root: Path) -> Path:
    """Data, model and the hf run under ``root``; returns the run directory."""
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import build_data_root

    from medunieval.tiny_models import build_tiny_qwen2_lm

    if not (root / "data").is_dir():
        build_data_root(root / "data")
    model = build_tiny_qwen2_lm(root / "tiny", head_dim=64)
    hf = preset(root, "tiny-hf", {"model": str(model), "backend": "hf"})
    run(hf, root / "data", root / "runs", "hf", "--device", "cpu")
    return root / "runs" / "hf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(port: int, log_level: str | None = None) -> list[str]:
    """``transformers serve`` on 127.0.0.1:``port`` (CPU) for the installed major: 5.x has the
    CLI in ``transformers.cli.transformers`` (typer: ``--log-level``), 4.x in
    ``transformers.commands.transformers_cli`` (argparse: ``--log_level``)."""
    import transformers

    if int(transformers.__version__.split(".")[0]) >= 5:
        code, level_flag = "from transformers.cli.transformers import main; main()", "--log-level"
    else:
        code = "from transformers.commands.transformers_cli import main; main()"
        level_flag = "--log_level"
    cmd = [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port),
           "--device", "cpu"]  # fmt: skip
    return cmd + ([level_flag, log_level] if log_level else [])


@contextmanager
def serve_process(
    log: Path, log_level: str | None = None
) -> Iterator[tuple[subprocess.Popen, int]]:
    """``transformers serve`` on 127.0.0.1 (a free port), up and healthy, for the duration;
    yields the process and its port. Its output goes to ``log``."""
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("wb") as fh:
        proc = subprocess.Popen(serve_command(port, log_level), stdout=fh,
                                stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"transformers serve exited:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"transformers serve not up in {START_TIMEOUT_S} s")
            time.sleep(0.3)
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def transformers_serve(log: Path) -> Iterator[str]:
    """``serve_process``, yielding its OpenAI-compatible base URL."""
    with serve_process(log) as (_, port):
        yield f"http://127.0.0.1:{port}/v1"


def differs_only_in_undecodable_tail(longer: str, shorter: str) -> bool:
    """True when ``shorter`` is ``longer`` (both stripped) minus a tail made of U+FFFD (bytes
    that do not decode to a whole character) and whitespace."""
    a, b = longer.strip(), shorter.strip()
    return a.startswith(b) and not a[len(b) :].replace("\ufffd", "").strip()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "hf-run":
        sys.exit("usage: python tests/parity_helpers.py hf-run DIR")
    print(hf_run(Path(sys.argv[2])))
