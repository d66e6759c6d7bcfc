"""Deterministic shards by sample id: stable under dataset reordering, runnable anywhere."""

from __future__ import annotations

import hashlib
from typing import Any


def shard_of(benchmark: str, sample_id: str, num_shards: int) -> int:
    """The shard (``0..num_shards-1``) a sample belongs to: a hash of benchmark and id, so the
    assignment never depends on row order, dataset size or the machine."""
    digest = hashlib.sha256(f"{benchmark}\0{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % num_shards


def select_shard(benchmark: str, items: list[Any], num_shards: int, index: int) -> list[Any]:
    """The items (objects with ``.id``) of shard ``index``, in their original order."""
    return [s for s in items if shard_of(benchmark, s.id, num_shards) == index]
