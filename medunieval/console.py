"""Rich consoles for the command line: readable on a terminal, never truncated off one.

Off a terminal (CI logs, pipes, files) rich would cut tables and help to 80 columns, so ids
like ``healthbench_consensus`` became ``healthbench_c…``. There the consoles are made wide
enough that nothing wraps or truncates; on a terminal rich's own width applies.
"""

from __future__ import annotations

import sys

from rich.console import Console

WIDE = 10_000  # columns off a terminal: wider than any line the CLI prints


def _is_tty(stderr: bool) -> bool:
    stream = sys.stderr if stderr else sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def make_console(stderr: bool = False) -> Console:
    """A console that does not wrap or truncate when its stream is not a terminal."""
    if _is_tty(stderr):
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=WIDE, soft_wrap=True)


def configure_help() -> None:
    """Off a terminal, give typer's help panels room so option names are never cut."""
    if _is_tty(False):
        return
    import typer.rich_utils

    typer.rich_utils.MAX_WIDTH = 160
