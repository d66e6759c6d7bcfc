"""Media references that stay inside the dataset root and load lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SampleError
from ..types import MediaRef


def safe_join(root: Path, rel: str) -> Path:
    """Join ``rel`` (a path from a data row) onto ``root``; refuse anything that leaves it.

    Windows separators are normalised. ``../`` escapes and absolute paths outside the root raise
    ``SampleError("unsafe_path", ...)``.
    """
    rel = rel.replace("\\", "/").strip()
    if not rel:
        raise SampleError("malformed_row", "empty media path")
    root_resolved = root.resolve()
    candidate = Path(rel)
    full = candidate if candidate.is_absolute() else root_resolved / candidate
    resolved = full.resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise SampleError("unsafe_path", f"media path {rel!r} leaves the dataset root {root}")
    return resolved


def file_image(root: Path, rel: str, subdirs: tuple[str, ...] = ("",)) -> MediaRef:
    """A lazily read image file under ``root`` (first existing of ``root/<subdir>/<rel>``)."""
    candidates = [safe_join(root, f"{d}/{rel}" if d else rel) for d in subdirs]
    path = next((p for p in candidates if p.is_file()), candidates[0])
    return MediaRef(kind="image", source=str(path), opener=path.read_bytes)


def hf_image(value: Any, root: Path | None, where: str) -> MediaRef:
    """An image cell of a HF ``Image`` column stored undecoded (``{"bytes", "path"}``).

    Embedded bytes are used when present; otherwise ``path`` is resolved under ``root``.
    """
    if isinstance(value, dict):
        data = value.get("bytes")
        path = value.get("path")
        if data:
            return MediaRef(
                kind="image", source=f"{where} ({path or 'embedded'})", opener=lambda: data
            )
        if path and root is not None:
            return file_image(root, path)
        raise SampleError("missing_media", f"{where}: image cell has neither bytes nor a path")
    if isinstance(value, str) and root is not None:
        return file_image(root, value)
    raise SampleError(
        "malformed_row", f"{where}: unsupported image value of type {type(value).__name__}"
    )
