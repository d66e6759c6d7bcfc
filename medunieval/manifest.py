"""Facts recorded in a run's manifest: package versions, platform, git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = (
    "medunieval",
    "torch",
    "transformers",
    "datasets",
    "huggingface-hub",
    "nltk",
    "rouge",
    "pillow",
    "numpy",
    "accelerate",
    "vllm",
    "openai",
)


def environment() -> dict[str, Any]:
    """Python, platform and the versions of every package that can change a result."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions}


def git_info() -> dict[str, Any] | None:
    """Commit and dirty flag of the medunieval source tree, when it is a git checkout."""
    src = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(src), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(dirty)}
