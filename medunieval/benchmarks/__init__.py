"""Benchmark registry. Built-in declarations live in this package, one module each; plugins
add theirs through the ``medunieval.benchmarks`` entry-point group (value: a ``Benchmark``)."""

from __future__ import annotations

from ..registry import Registry
from .base import Benchmark

BENCHMARKS: Registry[Benchmark] = Registry("benchmark", "medunieval.benchmarks")

for _name, _target in {
    "vqa_rad": "vqa_rad:BENCHMARK",
    "slake": "slake:BENCHMARK",
    "path_vqa": "path_vqa:BENCHMARK",
    "medqa": "medqa:BENCHMARK",
    "medqa_op5": "medqa:BENCHMARK_OP5",
    "medmcqa": "medmcqa:BENCHMARK",
    "pubmedqa": "pubmedqa:BENCHMARK",
}.items():
    BENCHMARKS.register(_name, f"{__name__}.{_target}")

__all__ = ["BENCHMARKS", "Benchmark"]
