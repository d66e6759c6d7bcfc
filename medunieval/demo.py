"""``medunieval demo``: the main job end to end, offline, on bundled real rows with synthetic
images and a tiny randomly initialised Qwen2-VL (its answers are noise; the pipeline is real)."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

# Notices that are expected with the tiny demo model and say nothing about the user's setup.
QUIET_NOTICES = ("video processor unavailable (torchvision is not installed)",)


def synth_image(path: Path, seed: int, size: int = 64) -> Path:
    """A deterministic synthetic grey-scale 'scan' (a gradient with a bright blob) as PNG."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    cy, cx = rng.integers(size // 4, 3 * size // 4, size=2)
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (size / 8) ** 2))
    img = 0.4 * xx / size + 0.6 * blob + 0.05 * rng.standard_normal((size, size))
    arr = (np.clip(img, 0, 1) * 255).astype("uint8")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr, mode="L").convert("RGB").save(path)
    return path


def prepare_data(root: Path) -> Path:
    """Copy the bundled rows under ``root/<bench>/`` and draw one image per VQA-RAD image name."""
    import json

    bundled = resources.files("medunieval.demo_data")
    vqa = root / "vqa_rad"
    vqa.mkdir(parents=True, exist_ok=True)
    rows = json.loads(bundled.joinpath("vqa_rad_testset.json").read_text("utf-8"))
    (vqa / "testset.json").write_text(json.dumps(rows, indent=1), "utf-8")
    for i, name in enumerate(sorted({r["image_name"] for r in rows})):
        if not (vqa / "images" / name).exists():
            synth_image(vqa / "images" / name, seed=i)
    med = root / "medqa"
    med.mkdir(parents=True, exist_ok=True)
    (med / "test.jsonl").write_text(
        bundled.joinpath("medqa_test.jsonl").read_text("utf-8"), "utf-8"
    )
    return root


class _Filtered:
    """A text stream that drops lines holding one of ``QUIET_NOTICES``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._dropping = False  # inside a dropped line (print writes its newline separately)

    def write(self, text: str) -> int:
        if any(n in text for n in QUIET_NOTICES):
            self._dropping = not text.endswith("\n")
            return len(text)
        if self._dropping and text.startswith("\n"):
            self._dropping = False
            text = text[1:]
        return self._stream.write(text) if text else 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def quiet_model_notices() -> Iterator[None]:
    """Silence transformers' "slow image processor" / "requires torchvision" advice, the
    image-only processor notice and its progress bars (the tiny demo model has no fast
    processor and needs no video processor)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - the demo needs the hf extra anyway
        hf_logging = None
    level = hf_logging.get_verbosity() if hf_logging else None
    bars = hf_logging.is_progress_bar_enabled() if hf_logging else False
    if hf_logging:
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # "Writing model shards" / "Loading weights" (5.x)
    stderr, sys.stderr = sys.stderr, _Filtered(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stderr = stderr
        if hf_logging and level is not None:
            hf_logging.set_verbosity(level)
            if bars:
                hf_logging.enable_progress_bar()


def demo_store(workdir: Path) -> Path:
    """The demo's response store: the one ``medunieval run`` and ``medunieval cache`` use by
    default, ``<workdir>/../cache/responses.sqlite`` (``results/cache/responses.sqlite``)."""
    return Path(workdir).parent / "cache" / "responses.sqlite"


def run_demo(
    workdir: Path, console: Any = None, cache: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Build the tiny model and data under ``workdir`` and run vqa_rad + medqa through hf;
    responses go to ``cache`` (default ``demo_store(workdir)``)."""
    from .engine import Engine, RunConfig
    from .tiny_models import build_tiny_qwen2_vl

    workdir = Path(workdir)
    if console is not None:
        console.print(f"building a tiny random Qwen2-VL and demo data under {workdir} ...")
    with quiet_model_notices():  # 5.x: "requires torchvision ... falling back" while building
        model_dir = build_tiny_qwen2_vl(workdir / "tiny-qwen2-vl")
    data = prepare_data(workdir / "data")
    shutil.rmtree(workdir / "runs", ignore_errors=True)
    cfg = RunConfig(
        model=str(model_dir),
        benchmarks=["vqa_rad", "medqa"],
        backend="hf",
        data_dir=data,
        output=workdir / "runs",
        run_id="demo",
        cache=cache or demo_store(workdir),
        max_new_tokens=16,
        batch_size=8,
    )
    with quiet_model_notices():
        result = Engine(cfg).run()
    if console is not None:
        console.print(f"records and summaries in {result.run_dir}")
        console.print(_served_line(result.results, cfg.cache), highlight=False)
    return {r.name: r.summary for r in result.results}


def _served_line(results: list[Any], store: Path | None) -> str:
    """Where the responses came from: generated now or served from the response store."""
    gen = sum(r.generated for r in results)
    hit = sum(r.cached for r in results)
    if gen == 0 and hit:
        return f"all {hit} responses served from the response store {store} (nothing generated)"
    return f"generated {gen}, served from the response store {hit} (store: {store})"
