"""``medunieval demo``: the main job end to end, offline, on bundled real rows with synthetic
images and a tiny randomly initialised Qwen2-VL (its answers are noise; the pipeline is real)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Any


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


def run_demo(workdir: Path, console: Any = None) -> dict[str, dict[str, Any]]:
    """Build the tiny model and data under ``workdir`` and run vqa_rad + medqa through hf."""
    from .engine import Engine, RunConfig
    from .tiny_models import build_tiny_qwen2_vl

    workdir = Path(workdir)
    if console is not None:
        console.print(f"building a tiny random Qwen2-VL and demo data under {workdir} ...")
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
        cache=workdir / "cache" / "responses.sqlite",
        max_new_tokens=16,
        batch_size=8,
    )
    result = Engine(cfg).run()
    if console is not None:
        console.print(f"records and summaries in {result.run_dir}")
    return {r.name: r.summary for r in result.results}
