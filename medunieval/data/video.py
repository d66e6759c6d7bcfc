"""Video: frame sampling by fps with a max-frames cap, from video files or folders of frames.

Decoding uses PyAV (FFmpeg bindings, maintained, wheels for current Pythons and platforms).
decord, the other common choice, had its last release (0.6.0) in 2021 and ships no wheels for
recent Pythons, so it is not used.

Sampling (``sample_times``): a clip of ``duration`` seconds at ``fps`` gives the target times
``k / fps`` for ``k = 0 .. ceil(duration * fps) - 1``; when that is more than ``max_frames``,
the uniform fallback takes ``max_frames`` targets ``(i + 0.5) * duration / max_frames`` (the
centres of equal segments). Each target takes the first decoded frame whose timestamp is at or
after it (the last frame when none is); the chosen frames' timestamps (seconds) are recorded.
A folder of frames is a clip at ``folder_fps`` frames per second (frame ``j`` at ``j /
folder_fps``), in natural name order.

Decoding streams through the file and keeps only the chosen frames as RGB images; nothing else
is held. A truncated or corrupt file is a ``SampleError`` with the reason.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SampleError
from .volume import _RESIZE, MEDIA_HINT, _override, folder_files, resize_image

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


@dataclass(frozen=True)
class VideoSpec:
    """How a video becomes frames (recorded in the manifest; part of the digest)."""

    fps: float = 1.0
    max_frames: int = 64
    folder_fps: float = 1.0
    resize: str = "none"

    def __post_init__(self) -> None:
        for name in ("fps", "folder_fps"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"video option {name}={value!r}: a positive number")
        if not isinstance(self.max_frames, int) or self.max_frames < 1:
            raise ConfigError(f"video option max_frames={self.max_frames!r}: a positive integer")
        if not _RESIZE.match(str(self.resize)):
            raise ConfigError(
                f"video option resize={self.resize!r}: expected none, fit:N or square:N"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def override(self, options: dict[str, Any] | None) -> VideoSpec:
        """This spec with ``options`` (e.g. a preset's ``options["video"]``) applied."""
        return _override(self, options, "video")


def sample_times(duration: float, spec: VideoSpec) -> list[float]:
    """Target timestamps (seconds) for a clip of ``duration`` seconds."""
    if duration <= 0:
        return [0.0]
    count = max(1, math.ceil(duration * spec.fps - 1e-9))
    if count <= spec.max_frames:
        return [k / spec.fps for k in range(count)]
    n = spec.max_frames
    return [(i + 0.5) * duration / n for i in range(n)]


def pick_frames(stamps: list[float], targets: list[float]) -> list[int]:
    """For each target, the index of the first timestamp at or after it (else the last)."""
    out: list[int] = []
    j = 0
    for t in targets:
        while j < len(stamps) - 1 and stamps[j] < t - 1e-6:
            j += 1
        out.append(j)
    return out


def _folder_frames(path: Path, spec: VideoSpec) -> tuple[list[Any], list[float]]:
    from PIL import Image

    files = folder_files(path)
    stamps = [j / spec.folder_fps for j in range(len(files))]
    duration = len(files) / spec.folder_fps
    chosen = pick_frames(stamps, sample_times(duration, spec))
    frames = []
    for j in chosen:
        with Image.open(files[j]) as im:
            im.load()
            frames.append(resize_image(im.convert("RGB"), spec.resize))
    return frames, [stamps[j] for j in chosen]


def _file_frames(path: Path, spec: VideoSpec) -> tuple[list[Any], list[float]]:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise SampleError("corrupt_media", f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base) if stream.time_base else 0.0
        duration = 0.0
        if stream.duration and tb:
            duration = float(stream.duration) * tb
        elif container.duration:
            duration = container.duration / 1_000_000
        start = float(stream.start_time or 0) * tb if tb else 0.0
        targets = sample_times(duration, spec)
        frames: list[Any] = []
        stamps: list[float] = []
        last: tuple[Any, float] | None = None
        ti = 0
        for frame in container.decode(stream):
            t = (
                (float(frame.pts) * tb - start)
                if frame.pts is not None and tb
                else float(frame.time or 0.0)
            )
            if ti < len(targets) and t >= targets[ti] - 1e-6:
                img = resize_image(frame.to_image(), spec.resize)
                while ti < len(targets) and t >= targets[ti] - 1e-6:
                    frames.append(img)
                    stamps.append(round(t, 6))
                    ti += 1
                last = None
            else:
                last = (frame, t)
            if ti >= len(targets):
                break
        if ti < len(targets) and (last is not None or frames):
            if last is not None:  # targets past the last decoded frame take the last frame
                img, t = resize_image(last[0].to_image(), spec.resize), last[1]
            else:
                img, t = frames[-1], stamps[-1]
            frames.extend([img] * (len(targets) - ti))
            stamps.extend([round(t, 6)] * (len(targets) - ti))
    if not frames:
        raise SampleError("corrupt_media", f"{path}: no decodable video frames")
    return frames, stamps


def load_frames(path: Path, spec: VideoSpec) -> tuple[list[Any], list[float]]:
    """The sampled frames (RGB PIL images) of a video file or frame folder and their
    timestamps in seconds. Problems are ``SampleError``s naming the file and the reason."""
    if not path.exists():
        raise SampleError("missing_media", f"video not found: {path}")
    if path.is_dir():
        reader = _folder_frames
    elif path.suffix.lower() in VIDEO_SUFFIXES:
        reader = _file_frames
    else:
        raise SampleError("unsupported_media", f"not a video file or frame folder: {path}")
    try:
        return reader(path, spec)
    except (SampleError, ConfigError):
        raise
    except ImportError as exc:
        raise ConfigError(f"decoding videos needs {exc.name}: {MEDIA_HINT}") from None
    except Exception as exc:  # av.error.*, PIL and OS errors on broken files
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise SampleError("corrupt_media", f"cannot decode video {path}: {msg}") from None
