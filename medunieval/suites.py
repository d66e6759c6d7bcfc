"""Suites (``configs/suites/*.yaml``): named benchmark lists, optionally with a fixed, seeded,
stratified subset per benchmark (the ``ci`` suite)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

SUITE_PACKAGE = "medunieval.configs.suites"


@dataclass(frozen=True)
class SubsetSpec:
    """``n`` samples per benchmark, stratified by ``stratify`` (a meta field; None = the
    benchmark's first ``group_by`` field), ranked by ``sha256(seed:benchmark:id)``."""

    n: int
    seed: int = 0
    stratify: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "seed": self.seed, "stratify": self.stratify}


@dataclass
class Suite:
    name: str
    benchmarks: list[str]
    description: str = ""
    table: str | None = None
    subset: dict[str, SubsetSpec] = field(default_factory=dict)
    source: str = ""


def suite_names() -> list[str]:
    files = resources.files(SUITE_PACKAGE).iterdir()
    return sorted(e.name[:-5] for e in files if e.name.endswith(".yaml"))


def load_suite(spec: str) -> Suite:
    """A shipped suite by name, or a suite YAML file."""
    path = Path(spec).expanduser()
    if path.suffix in (".yaml", ".yml") and path.is_file():
        raw, source = yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
    elif spec in suite_names():
        text = resources.files(SUITE_PACKAGE).joinpath(f"{spec}.yaml").read_text("utf-8")
        raw, source = yaml.safe_load(text), f"{spec}.yaml"
    else:
        raise ConfigError(
            f"unknown suite {spec!r}; available: {', '.join(suite_names())} (or a YAML file)"
        )
    benches = list(raw.get("benchmarks") or [])
    if not benches:
        raise ConfigError(f"suite {source}: needs a non-empty `benchmarks:` list")
    subset: dict[str, SubsetSpec] = {}
    default = raw.get("subset")
    overrides = raw.get("subsets") or {}
    for name in benches:
        spec_d = overrides.get(name, default)
        if spec_d:
            subset[name] = SubsetSpec(
                int(spec_d["n"]), int(spec_d.get("seed", 0)), spec_d.get("stratify")
            )
    return Suite(
        raw.get("name", spec), benches, raw.get("description", ""), raw.get("table"), subset, source
    )


def _rank(seed: int, benchmark: str, sample_id: str) -> str:
    return hashlib.sha256(f"{seed}:{benchmark}:{sample_id}".encode()).hexdigest()


def select_subset(
    benchmark: str, items: list[Any], spec: SubsetSpec, strata: list[str | None]
) -> list[Any]:
    """Pick ``spec.n`` of ``items`` (objects with ``.id``), stratified by ``strata`` (one label
    per item, same order), in the items' original order.

    Each stratum gets a share proportional to its size (largest remainder, ties broken by the
    stratum name); inside a stratum the items with the smallest ``sha256(seed:benchmark:id)``
    win. The result depends only on the set of (id, stratum) pairs, not on their order."""
    if spec.n >= len(items):
        return list(items)
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(strata):
        groups.setdefault("" if label is None else str(label), []).append(i)
    total = len(items)
    quotas = {k: spec.n * len(v) / total for k, v in groups.items()}
    take = {k: int(q) for k, q in quotas.items()}
    left = spec.n - sum(take.values())
    for k in sorted(groups, key=lambda k: (-(quotas[k] - take[k]), k))[:left]:
        take[k] += 1
    chosen: set[int] = set()
    for k, idx in groups.items():
        ranked = sorted(idx, key=lambda i: _rank(spec.seed, benchmark, items[i].id))
        chosen.update(ranked[: take[k]])
    return [item for i, item in enumerate(items) if i in chosen]
