"""From media references to request content parts (images, volumes, videos).

``media_specs`` resolves the volume / video options of one run (benchmark defaults, then the
model preset's ``options["volume"]`` / ``options["video"]``); ``media_part`` turns a
``MediaRef`` into its part, checking it decodes so every backend sees the same broken files:
an image is decoded in full (a truncated JPEG is ``corrupt_media`` on replay, openai and hf
alike) after its pixel count is checked against ``max_image_pixels`` (``media_too_large``).
"""

from __future__ import annotations

import io
import os
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SampleError
from ..types import ImagePart, MediaRef, VideoPart, VolumePart, canonical_json, sha256_hex
from . import decoded as _decoded
from . import video as _video
from . import volume as _volume
from .media import safe_join

MEDIA_WORKERS = 4
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # Pillow's own default (0.25 GiB of RGBA)


@dataclass(frozen=True)
class MediaSpecs:
    """The volume and video specs in force for one benchmark of one run."""

    volume: _volume.VolumeSpec = _volume.VolumeSpec()
    video: _video.VideoSpec = _video.VideoSpec()
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    def to_dict(self) -> dict[str, Any]:
        return {"volume": self.volume.to_dict(), "video": self.video.to_dict()}


def media_specs(
    bench: Any, preset_options: dict[str, Any] | None = None, max_image_pixels: int | None = None
) -> MediaSpecs:
    """``bench``'s default specs overridden by a preset's ``volume`` / ``video`` options; the
    image pixel limit from ``max_image_pixels`` (``--max-image-pixels``), else the preset's
    ``max_image_pixels`` option, else the default (a bad option is a ``ConfigError``)."""
    opts = preset_options or {}
    limit = max_image_pixels or opts.get("max_image_pixels") or DEFAULT_MAX_IMAGE_PIXELS
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"max_image_pixels must be a positive integer, got {limit!r}")
    return MediaSpecs(
        volume=bench.volume_spec.override(opts.get("volume")),
        video=bench.video_spec.override(opts.get("video")),
        max_image_pixels=limit,
    )


def _spec_digest(source: str, spec: Any) -> str:
    return sha256_hex(canonical_json({"source": source, "spec": spec.to_dict()}).encode())


def check_image(data: bytes, source: str, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
    """The verdict every backend shares: the pixel count (from the header, before decoding)
    within ``max_pixels``, else ``media_too_large``; then a full decode, else
    ``corrupt_media``."""
    import warnings

    from PIL import Image

    if max_pixels > (Image.MAX_IMAGE_PIXELS or 0):  # let Pillow's own guard follow ours
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                pixels = img.width * img.height
                if pixels > max_pixels:
                    raise _too_large(source, f"{img.width}x{img.height}", max_pixels)
                img.load()
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(source, found.group(1) if found else "too many", max_pixels) from None
    except SampleError:
        raise
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error...
        msg = " ".join(f"{exc}".split())[:200] or type(exc).__name__
        raise SampleError("corrupt_media", f"cannot decode image {source}: {msg}") from None


def _too_large(source: str, size: str, limit: int) -> SampleError:
    return SampleError(
        "media_too_large",
        f"image {source} has {size} pixels, over the limit of {limit} "
        f"(raise it with --max-image-pixels or the preset's max_image_pixels option)",
    )


def media_part(
    ref: MediaRef, specs: MediaSpecs | None = None, check: bool = True
) -> ImagePart | VolumePart | VideoPart:
    """The content part for ``ref``. A volume / video is decoded here, so a truncated or
    corrupt file becomes this sample's ``SampleError`` before any backend runs; its frames stay
    on the part (within a memory budget, ``data/decoded.py``) for the backend to use.
    ``check=False``: the digest only, nothing decoded (to compare inputs, never to generate)."""
    specs = specs or MediaSpecs()
    if ref.kind == "volume":
        path = _volume.source_path(ref)
        spec = specs.volume
        vpart = VolumePart(ref, _spec_digest(_volume.source_digest(path), spec), spec)
        if not check:
            return vpart
        frames = _decode(_volume.load_frames, path, spec)  # the check is the decode needed
        _decoded.keep(vpart, frames, frames)
        return vpart
    if ref.kind == "video":
        path = _volume.source_path(ref)
        part = VideoPart(ref, _spec_digest(_volume.source_digest(path), specs.video), specs.video)
        if not check:
            return part
        got = _decode(_video.load_frames, path, specs.video)
        _decoded.keep(part, got, got[0])
        return part
    data = ref.read_bytes()
    if check:
        check_image(data, ref.source, specs.max_image_pixels)
    return ImagePart(ref=ref, digest=sha256_hex(data))


def _decode(loader: Callable[[Path, Any], Any], path: Path, spec: Any) -> Any:
    try:
        return loader(path, spec)
    except (SampleError, ConfigError):
        raise
    except Exception as exc:  # windowing / resizing a decoded but odd array
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise SampleError("corrupt_media", f"cannot decode {path}: {msg}") from None


def media_workers(samples: Sequence[Any]) -> int:
    """Threads for building requests: 1 for image-only samples; for volumes and videos up to
    ``MEDIA_WORKERS`` (decoding releases the GIL; each worker holds one decoded item)."""
    if not any(m.kind != "image" for s in samples for m in s.media):
        return 1
    return max(1, min(MEDIA_WORKERS, os.cpu_count() or 1, len(samples)))


def build_all(
    build: Callable[[Any], Any], samples: Sequence[Any], workers: int
) -> Iterator[tuple[Any, Any]]:
    """``(sample, build(sample) or its SampleError)`` in sample order, on ``workers`` threads
    (at most ``2 * workers`` builds in flight, so memory stays bounded)."""

    def one(sample: Any) -> Any:
        try:
            return build(sample)
        except SampleError as exc:
            return exc

    if workers <= 1:
        for sample in samples:
            yield sample, one(sample)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="media") as pool:
        pending: deque[tuple[Any, Any]] = deque()
        for sample in samples:
            pending.append((sample, pool.submit(one, sample)))
            if len(pending) >= 2 * workers:
                done, fut = pending.popleft()
                yield done, fut.result()
        while pending:
            done, fut = pending.popleft()
            yield done, fut.result()


def _listing(path: Path) -> bytes:
    if path.is_dir():
        return "\n".join(p.name for p in _volume.folder_files(path)).encode()
    return path.read_bytes()


def path_ref(kind: str, root: Path, rel: str) -> MediaRef:
    """A lazy volume / video reference to ``root/rel`` (a file or a folder; must stay inside
    ``root``). Its bytes are the file's bytes, or a folder's file listing."""
    path = safe_join(root, rel)
    return MediaRef(kind=kind, source=str(path), opener=lambda: _listing(path), path=str(path))  # type: ignore[arg-type]
