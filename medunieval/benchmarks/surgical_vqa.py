"""Surgical video VQA (Cholec80-VQA, EndoVis18-VQA, PSI-AVA-VQA): classification-style
questions about a surgical scene, scored by accuracy and macro F1 over the answer classes.

Layouts, per data folder:

- the Surgical-VQA / SurgicalGPT releases: one ``<frame>[_QA].txt`` per frame with lines
  ``question|answer``; the frame image is found as ``<dir>/{left_frames,frames,images}/
  [<video>/]<frame>.{png,jpg}`` for the QA file's ancestors ``<dir>`` (EndoVis18:
  ``seq_N/vqa/Classification/frame000_QA.txt`` -> ``seq_N/left_frames/frame000.png``).
  EndoVis18-VQA reads only its test sequences 1, 5 and 16 when ``seq_*`` folders are present;
  for the others, point ``--data`` at the test split's folder.
- a JSONL / JSON / CSV file of rows ``{"id", "question", "answer", "video" | "image"}``: a
  ``video`` (file or frame folder) becomes a video part sampled by the benchmark's video spec.

The prompt lists the answer classes of the split (sorted), then MedUniEval's closed
instruction. MedUniEval's video evaluation is unpublished (Hulu-Med issue #33): see
``scoring/surgical.py`` for the rules.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import prompts
from ..data.sources import LOCAL_SUFFIXES, RawRows, read_local
from ..data.video import VideoSpec
from ..errors import ConfigError, SampleError
from ..types import MediaRef, Sample
from .base import Benchmark, RowContext, pick

FRAME_DIRS = ("left_frames", "frames", "images", "keyframes")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")


def _frame_ref(txt: Path, root: Path) -> str:
    """The frame image of a QA file, relative to ``root``."""
    frame = re.sub(r"_QA$", "", txt.stem)
    video = txt.parent.name
    for anc in [txt.parent, *txt.parents]:
        for d in FRAME_DIRS:
            for sub in ("", video):
                for suf in FRAME_SUFFIXES:
                    cand = anc / d / sub / f"{frame}{suf}"
                    if cand.is_file():
                        return str(cand.relative_to(root))
        if anc == root:
            break
    raise SampleError(
        "missing_media",
        f"{txt}: no frame image {frame}.png/.jpg under {'/'.join(FRAME_DIRS)} of its folders",
    )


def reader(test_sequences: tuple[int, ...] = ()) -> Callable[[Benchmark, Path], RawRows]:
    """A local reader for the per-frame QA txt layout or a table of rows."""

    def read(bench: Benchmark, path: Path) -> RawRows:
        if path.is_file():
            if path.suffix.lower() not in LOCAL_SUFFIXES:
                raise ConfigError(f"{bench.name}: unsupported data file {path}")
            return _with_classes(read_local(path))
        if not path.is_dir():
            raise ConfigError(f"{bench.name}: data path {path} does not exist")
        txts = sorted(path.rglob("*.txt"))
        if test_sequences and any(p.is_dir() for p in path.glob("seq_*")):
            keep = {f"seq_{k}" for k in test_sequences}
            txts = [t for t in txts if keep & set(t.relative_to(path).parts)]
        if not txts:
            return _with_classes(read_local(bench.resolve_local(path)[0]))
        rows: list[dict[str, Any]] = []
        digest = hashlib.sha256()
        for txt in txts:
            rel = str(txt.relative_to(path))
            text = txt.read_text(encoding="utf-8", errors="replace")
            digest.update(rel.encode() + b"\0" + text.encode())
            try:
                image: Any = _frame_ref(txt, path)
            except SampleError as exc:
                image = None
                missing = exc.reason
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                row: dict[str, Any] = {"id": f"{rel.rsplit('.', 1)[0]}#{n}", "_file": rel}
                if "|" not in line:
                    row["_malformed"] = f"{rel} line {n}: expected 'question|answer'"
                else:
                    q, a = line.rsplit("|", 1)
                    row.update(question=q.strip(), answer=a.strip())
                    if image is None:
                        row["_malformed"] = missing
                    else:
                        row["image"] = image
                rows.append(row)
        return _with_classes(RawRows(rows, str(path), digest.hexdigest(), path))

    return read


def _with_classes(raw: RawRows) -> RawRows:
    classes = sorted({str(r["answer"]).strip() for _, r in raw if r.get("answer") is not None})
    for _, row in raw:
        row["_classes"] = classes
    return raw


def to_sample(row: dict[str, Any], ctx: RowContext) -> Sample:
    media: list[MediaRef]
    if row.get("video") not in (None, ""):
        media = [ctx.video(row, "video")]
    else:
        media = [ctx.image(row, "image")]
    return Sample(
        id=str(row.get("id", ctx.index)),
        benchmark=ctx.bench.name,
        question=str(pick(row, "question")),
        answer=str(pick(row, "answer")).strip(),
        answer_type="closed",
        media=media,
        meta={"classes": list(row.get("_classes") or [])},
    )


def prompt(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
    classes = ", ".join(sample.meta.get("classes", []))
    return (
        f"{sample.question}\nCandidate answers: {classes}.\n"
        f"{prompts.instruction('closed', bench.lang, reasoning)}"
    )


def _bench(name: str, title: str, test_sequences: tuple[int, ...], what: str) -> Benchmark:
    return Benchmark(
        name=name,
        title=title,
        task="vqa",
        to_sample=to_sample,
        hub=None,
        local_files=("test.jsonl", "test.json", "test.csv"),
        local_reader=reader(test_sequences),
        prompt_builder=prompt,
        compat_scorer="surgical",
        group_by=("answer_type",),
        max_new_tokens=32,
        video_spec=VideoSpec(fps=1.0, max_frames=64),
        description=what,
    )


CHOLEC80 = _bench(
    "cholec80_vqa", "Cholec80-VQA", (), "Cholecystectomy video VQA (tools, phases; Surgical-VQA)"
)
ENDOVIS18 = _bench(
    "endovis18_vqa", "EndoVis18-VQA", (1, 5, 16), "Robotic surgery VQA (EndoVis 2018; seq 1, 5, 16)"
)
PSI_AVA = _bench(
    "psi_ava_vqa", "PSI-AVA-VQA", (), "Prostatectomy VQA (phase, step, location; SurgicalGPT)"
)
