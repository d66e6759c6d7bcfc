"""``medunieval predictions-template``: the samples of a benchmark as a JSONL file a user fills
with their own model's answers and replays (``--backend replay --predictions FILE``).

One line per sample: ``id`` (the id replay matches), ``benchmark``, ``prompt`` (the exact text
the harness would send), ``media`` (source and SHA-256 of each image / volume / video, as in
the records) and, for a sample the harness cannot build, ``error``. Add ``"response": "..."``
to each line to make it a predictions file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .data.parts import media_specs
from .engine import RunConfig, build_request, load_all_raw, resolve_benchmarks
from .errors import SampleError
from .types import GenParams


def template_lines(cfg: RunConfig) -> Iterator[dict[str, Any]]:
    """One template entry per sample of ``cfg.benchmarks`` (``--limit`` applies)."""
    benches = resolve_benchmarks(cfg.benchmarks)
    for bench, raw in zip(benches, load_all_raw(cfg, benches), strict=True):
        samples = bench.samples(raw)
        if cfg.limit is not None:
            samples = samples[: cfg.limit]
        params = GenParams(max_new_tokens=bench.max_new_tokens)
        specs = media_specs(bench)
        for sample in samples:
            entry: dict[str, Any] = {"id": sample.id, "benchmark": bench.name}
            try:
                req = build_request(bench, sample, params, cfg.reasoning, specs)
            except SampleError as exc:
                entry["error"] = f"{exc.kind}: {exc.reason}"
            else:
                entry["prompt"] = req.prompt_text()
                entry["media"] = [{"source": p.ref.source, "sha256": p.digest} for p in req.media()]
            yield entry


def write_template(cfg: RunConfig, output: Path) -> int:
    """Write the template to ``output``; returns the number of lines."""
    output.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with output.open("w", encoding="utf-8") as fh:
        for entry in template_lines(cfg):
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            n += 1
    return n
