"""The quick start as a new user meets it (issue 13): `medunieval cache` finds the demo's store,
the second demo says it was served from the store, and the demo prints no model notices."""

from __future__ import annotations

import inspect
import io
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medunieval.cli import app, cache_stats
from medunieval.demo import _served_line, demo_store, quiet_model_notices
from medunieval.engine import BenchResult


def test_demo_store_is_the_one_cache_reads_by_default() -> None:
    default = inspect.signature(cache_stats).parameters["path"].default.default  # typer Option
    assert demo_store(Path("results/demo")) == default == Path("results/cache/responses.sqlite")


def test_served_line_says_when_nothing_was_generated() -> None:
    store = Path("results/cache/responses.sqlite")
    second = [BenchResult("vqa_rad", {}, cached=20), BenchResult("medqa", {}, cached=20)]
    assert _served_line(second, store).startswith("all 40 responses served from the response store")
    first = [BenchResult("vqa_rad", {}, generated=20), BenchResult("medqa", {}, generated=20)]
    assert _served_line(first, store).startswith("generated 40, served from the response store 0")


def test_quiet_model_notices(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    from transformers.utils import logging as hf_logging

    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    before = hf_logging.get_verbosity()
    with quiet_model_notices():
        print(
            "medunieval: Qwen2VLProcessor: video processor unavailable (torchvision is not "
            "installed); loading it for images only",
            file=sys.stderr,
        )
        print("medunieval: something else", file=sys.stderr)
        assert hf_logging.get_verbosity() == hf_logging.ERROR
    assert buf.getvalue() == "medunieval: something else\n"
    assert hf_logging.get_verbosity() == before


@pytest.mark.slow
def test_demo_twice_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEDUNIEVAL_CACHE", raising=False)
    runner = CliRunner()
    first = runner.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert "generated 40" in first.output
    for notice in ("slow image processor", "torchvision is not installed", "requires torchvision",
                   "Loading weights", "Writing model shards"):  # fmt: skip
        assert notice not in first.output
    second = runner.invoke(app, ["demo"])
    assert "all 40 responses served from the response store" in second.output
    cache = runner.invoke(app, ["cache"])
    assert cache.exit_code == 0 and "40" in cache.output, cache.output
