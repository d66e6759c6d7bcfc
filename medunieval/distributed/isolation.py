"""Keep a generation worker away from the driver's state.

A Ray actor may run on the driver's machine, where the driver's run directory and response
store are one ``open`` away. ``deny_paths`` installs an audit hook (PEP 578) that refuses, with
``PermissionError``, every attempt of the process to open, create, rename, remove or connect
SQLite to those paths, exactly as a worker on another machine could not. It is installed in
every actor, so "actors write nothing the driver reads" is enforced, not just intended; the
hook cannot be removed for the life of the process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

# audited operations whose arguments name files (PEP 578 events)
_EVENTS = frozenset({
    "open", "sqlite3.connect", "os.mkdir", "os.rename", "os.remove", "os.rmdir",
    "os.truncate", "os.chmod", "os.chown", "os.utime", "os.link", "os.symlink",
    "os.listdir", "os.scandir", "shutil.copyfile", "shutil.rmtree", "shutil.move",
})  # fmt: skip


def _as_path(arg: Any) -> str | None:
    if isinstance(arg, (str, bytes, os.PathLike)):
        try:
            return os.path.realpath(os.fsdecode(arg))
        except (TypeError, ValueError):
            return None
    return None


def denied(path: str, roots: tuple[str, ...]) -> bool:
    """Whether ``path`` (already resolved) is one of ``roots``, inside one, or a SQLite
    side file of one (``-wal``, ``-shm``, ``-journal``)."""
    for root in roots:
        if path == root or path.startswith(root + os.sep) or path.startswith(root + "-"):
            return True
    return False


def deny_paths(paths: Iterable[os.PathLike[str] | str]) -> tuple[str, ...]:
    """Refuse this process any access to ``paths`` (and what lies under them) from now on.
    Returns the resolved roots; nothing is installed when there are none."""
    roots = tuple(sorted({os.path.realpath(os.fspath(p)) for p in paths}))
    if not roots:
        return roots

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in _EVENTS:
            return
        for arg in args[:2]:
            path = _as_path(arg)
            if path is not None and denied(path, roots):
                raise PermissionError(
                    f"{path}: the driver's run directory / response store; a generation worker "
                    "must not touch it (the driver alone writes records and the store)"
                )

    sys.addaudithook(hook)
    return roots
