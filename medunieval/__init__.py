"""medunieval: a correct, reproducible, resumable harness for medical VLM benchmarks."""

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "evaluate", "load_run"]


def __getattr__(name: str) -> Any:  # the API imports the engine: only when it is used
    if name in ("evaluate", "load_run", "Run", "Records"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'medunieval' has no attribute {name!r}")
