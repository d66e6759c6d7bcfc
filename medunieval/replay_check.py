"""Predictions that no sample uses: a replay run reports prediction ids that match no sample of
its benchmarks, and ids given more than once, instead of ignoring them silently."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from .presets import ModelPreset

EXAMPLES = 3


def predictions_path(preset: ModelPreset, predictions: Path | None) -> Path | None:
    """The predictions file a replay run reads (as the replay backend resolves it)."""
    path = predictions or preset.options.get("predictions")
    if path is None and Path(preset.model).is_file():
        path = preset.model
    return Path(path) if path is not None else None


def _entries(path: Path) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = []
    for line in path.read_text("utf-8").splitlines():
        try:
            obj = json.loads(line) if line.strip() else None
        except json.JSONDecodeError:
            continue  # the backend reports malformed lines
        if isinstance(obj, dict) and "id" in obj:
            bench = obj.get("benchmark")
            out.append((None if bench is None else str(bench), str(obj["id"])))
    return out


def _examples(items: Sequence[str]) -> str:
    return ", ".join(repr(i) for i in items[:EXAMPLES]) + (", ..." if len(items) > EXAMPLES else "")


def check_predictions(path: Path, sample_ids: Mapping[str, Sequence[str]]) -> list[str]:
    """Warnings for ``path`` against the run's samples (``benchmark -> every sample id of its
    data``, before ``--limit`` / subsets). Lines for benchmarks outside the run are ignored."""
    try:
        entries = _entries(path)
    except (OSError, UnicodeDecodeError):
        return []
    ids = {b: set(v) for b, v in sample_ids.items()}
    every = set().union(*ids.values()) if ids else set()
    unmatched = [
        sid
        for bench, sid in entries
        if (bench is None and sid not in every) or (bench in ids and sid not in ids[bench])
    ]
    counts = Counter((b, sid) for b, sid in entries if b is None or b in ids)
    dupes = [f"{sid}" + (f" ({b})" if b else "") for (b, sid), n in counts.items() if n > 1]
    warnings = []
    if unmatched:
        warnings.append(
            f"{path}: {len(unmatched)} prediction id(s) match no sample of "
            f"{', '.join(sample_ids)} (e.g. {_examples(unmatched)}); each benchmark's ids: "
            "`medunieval list benchmarks` (sample id column), `medunieval predictions-template`"
        )
    if dupes:
        warnings.append(
            f"{path}: {len(dupes)} id(s) appear on more than one line (e.g. {_examples(dupes)})"
        )
    return warnings
