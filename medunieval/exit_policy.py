"""The exit policy of ``medunieval run``: when a finished run still exits non-zero.

- ``0``: every benchmark ran, its error rate is at most ``--max-error-rate`` and its judged
  scores are complete;
- ``2``: misconfiguration (``ConfigError``), before or instead of any work;
- ``3`` (``EXIT_INCOMPLETE``): the run finished and its records and summaries are written, but
  a benchmark's error rate (failed samples / samples) exceeds ``--max-error-rate``
  (default 0.05), or its judged scores are incomplete: a judge was used and some records it had
  to judge have no verdict (judge unreachable, unparseable replies), or a benchmark scored only
  by a judge (HealthBench) has ungraded records.

The reasons go into ``summary.json`` (``status``) and onto stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .rundir import atomic_write_json

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_INCOMPLETE = 3
DEFAULT_MAX_ERROR_RATE = 0.05


def problems(summaries: dict[str, dict[str, Any]], max_error_rate: float) -> list[str]:
    """One line per reason the run's numbers are not complete (empty: all good)."""
    out: list[str] = []
    for name, s in summaries.items():
        n, errors = int(s.get("n") or 0), int(s.get("errors") or 0)
        if n and errors / n > max_error_rate:
            kinds = ", ".join(f"{k} {v}" for k, v in (s.get("error_kinds") or {}).items())
            out.append(
                f"{name}: {errors} of {n} samples failed ({100 * errors / n:.1f}% > "
                f"--max-error-rate {100 * max_error_rate:g}%): {kinds}"
            )
        judge = s.get("judge")
        if not judge:
            continue
        missing = int(judge.get("errors") or 0) + int(judge.get("unjudged") or 0)
        if missing and (judge.get("judges") or judge.get("task") == "rubric"):
            out.append(
                f"{name}: judged scores incomplete: {missing} of {judge.get('needing')} records "
                f"have no judge verdict (judge errors {judge.get('errors')}, not judged "
                f"{judge.get('unjudged')})"
            )
    return out


def apply_exit_policy(
    run_dir: Path, summaries: dict[str, dict[str, Any]], max_error_rate: float
) -> tuple[int, list[str]]:
    """The exit code and its reasons; both are written into ``run_dir/summary.json``."""
    found = problems(summaries, max_error_rate)
    code = EXIT_INCOMPLETE if found else EXIT_OK
    path = run_dir / "summary.json"
    if path.is_file():
        data = json.loads(path.read_text("utf-8"))
        data["status"] = {"exit_code": code, "max_error_rate": max_error_rate, "problems": found}
        atomic_write_json(path, data)
    return code, found
