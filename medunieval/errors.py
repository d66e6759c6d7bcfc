"""Error types. A ``ConfigError`` stops a run with a one-line fix; a ``SampleError`` is an
outcome recorded for one sample while the run goes on."""

from __future__ import annotations


class MedUniEvalError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(MedUniEvalError):
    """Misconfiguration (unknown benchmark, bad model path, bad flag, unreachable data).

    The message is one line that names the fix; the CLI prints it without a traceback.
    """


class SampleError(MedUniEvalError):
    """A per-sample failure (missing image, malformed row, generation error).

    Recorded in the sample's record with ``kind`` and the reason; counted in the denominator.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
