"""Checks run before any model loads: the device, the output folder and the response store.

Each failure is a ``ConfigError`` (one line, exit 2) that names the fix, raised in seconds
rather than after a model has been loaded or a benchmark half run.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

from .errors import ConfigError

_DEVICE = re.compile(r"^(cpu|mps|(cuda|xpu|npu)(:\d+)?)$")
SQLITE_HEADER = b"SQLite format 3\x00"


def check_device(device: str | None) -> None:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``xpu[:N]`` or ``npu[:N]``; a CUDA device must
    exist in this torch build and on this machine (checked without loading a model)."""
    if device is None:
        return
    if not _DEVICE.match(device):
        raise ConfigError(f"--device {device!r} is not a device: use cpu, cuda, cuda:N or mps")
    if not device.startswith("cuda"):
        return
    try:
        import torch
    except ImportError:
        raise ConfigError(f"--device {device} needs torch (pip install torch)") from None
    if not torch.cuda.is_available():
        build = "a CPU-only torch build" if torch.version.cuda is None else "no visible GPU"
        raise ConfigError(
            f"--device {device}: CUDA is not available ({build}, torch {torch.__version__}); "
            f"use --device cpu or install a CUDA build of torch"
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(
            f"--device {device}: only {count} GPU(s) visible (cuda:0..cuda:{count - 1})"
        )


def _existing_parent(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")


def _probe_writable(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder`` (works for read-only mounts, even as root)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".medunieval-probe.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        why = {errno.ENOSPC: "the disk is full", errno.EROFS: "read-only file system"}.get(
            exc.errno, exc.strerror or str(exc)
        )
        raise ConfigError(f"{what}: cannot write in {folder} ({why})") from None


def check_output(output: Path) -> None:
    """``--output`` must be (or be creatable as) a writable folder."""
    if output.exists() and not output.is_dir():
        raise ConfigError(f"--output {output} is a file: pass a folder for run directories")
    base = _existing_parent(output)
    if not base.is_dir():
        raise ConfigError(f"--output {output}: {base} is a file, not a folder")
    _probe_writable(base, f"--output {output}")


def check_store(path: Path) -> None:
    """The response store path must be a SQLite file (or not exist yet) in a writable folder."""
    if path.is_dir():
        raise ConfigError(
            f"--cache {path} is a folder: pass a file path (e.g. {path / 'responses.sqlite'}) "
            f"or --no-cache"
        )
    if path.exists():
        try:
            with path.open("rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise ConfigError(f"--cache {path}: cannot read it ({exc.strerror})") from None
        if head and head != SQLITE_HEADER:
            raise ConfigError(
                f"--cache {path} is not a response store (not a SQLite database): move it "
                f"aside or pass another --cache"
            )
    base = _existing_parent(path.parent)
    if not base.is_dir():
        raise ConfigError(f"--cache {path}: {base} is a file, not a folder")
    _probe_writable(base, f"--cache {path}")
