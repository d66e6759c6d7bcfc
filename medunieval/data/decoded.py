"""Decoded volume / video frames kept on their part, so a sample is decoded once.

``media_part`` must decode a volume or video to give every backend the same verdict on a
broken file; the frames it decodes are kept on the part (``keep``) and handed to the backend
by ``part.frames()`` (``kept``) instead of being decoded a second time. Memory is bounded: the
frames of all live parts together stay under ``MEDUNIEVAL_DECODED_MB`` (default 1024 MiB);
past that, a part keeps nothing and ``frames()`` decodes again. A part's share is released
when the part is garbage-collected (its request is done).
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

_lock = threading.Lock()
_used = 0


def budget_bytes() -> int:
    """The byte budget for kept frames (``MEDUNIEVAL_DECODED_MB``; 0 turns keeping off)."""
    try:
        return max(0, int(os.environ.get("MEDUNIEVAL_DECODED_MB", "1024"))) << 20
    except ValueError:
        return 1024 << 20


def used_bytes() -> int:
    """Bytes held by kept frames now (for tests and diagnostics)."""
    return _used


def _size(frames: list[Any]) -> int:
    return sum(im.width * im.height * len(im.getbands()) for im in frames)


def _release(size: int) -> None:
    global _used
    with _lock:
        _used -= size


def keep(part: Any, value: Any, frames: list[Any]) -> None:
    """Attach ``value`` (what the part's decoder returned; ``frames`` are its images) to
    ``part`` if the budget allows."""
    global _used
    size = _size(frames)
    with _lock:
        if _used + size > budget_bytes():
            return
        _used += size
    part.__dict__["_decoded"] = value  # frozen dataclass: set without __setattr__
    weakref.finalize(part, _release, size)


def kept(part: Any) -> Any | None:
    """What ``keep`` attached to ``part``, or None."""
    return part.__dict__.get("_decoded")
