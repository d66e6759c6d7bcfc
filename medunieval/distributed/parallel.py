"""Data-parallel workers on one machine: N processes, each with its own model (its own GPU via
``CUDA_VISIBLE_DEVICES``), fed shard by shard from the coordinator's queue.

The work is cut into ``N x SHARDS_PER_WORKER`` deterministic shards, so a slow worker never
holds up the others (whoever is free takes the next shard). Each shard is an ordinary shard run
(its own directory, resumable, writing through the shared SQLite response store), and the
shards are merged with the same code as ``medunieval merge``: the result is identical to a
single-process run. A worker that dies is replaced and its shard is given out again; what that
shard had already finished is skipped (records) or read back (response store).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..engine import BenchResult, Engine, ProgressHook, RunConfig, RunResult, store_path
from ..errors import ConfigError, MedUniEvalError
from .merge import merge_runs

SHARDS_PER_WORKER = 4
MAX_ATTEMPTS = 3  # a shard whose worker dies this many times fails the run


class WorkerFailed(MedUniEvalError):
    """A shard could not be completed by any worker."""


def shard_plan(cfg: RunConfig, workers: int) -> tuple[Path, RunConfig, list[Path]]:
    """The final run directory, the shard runs' base config and each shard's directory."""
    if cfg.num_shards > 1:
        raise ConfigError(
            "--data-parallel / --executor ray cut their own shards: do not combine them with "
            "--num-shards (run shards yourself, then `medunieval merge`)"
        )
    final = Engine(cfg).run_dir.path
    k = max(1, workers) * SHARDS_PER_WORKER
    base = replace(
        cfg,
        data_parallel=1,
        executor="local",
        num_shards=k,
        shard_index=0,
        output=final / "shards",
        cache=store_path(cfg),
    )
    dirs = [Engine(replace(base, shard_index=i)).run_dir.path for i in range(k)]
    return final, base, dirs


def finish(final: Path, dirs: list[Path], store: Path | None = None) -> RunResult:
    """Merge the shard runs into ``final`` (and any shard's own store into ``store``) and
    describe the result like ``Engine.run``."""
    merged = merge_runs(dirs, final, store=store)
    results = []
    for name, summary in merged.summaries.items():
        gen = summary.get("generation") or {}
        results.append(
            BenchResult(name, summary, gen.get("generated", 0), gen.get("cached", 0),
                        gen.get("skipped", 0))
        )  # fmt: skip
    return RunResult(final, results)


def visible_devices(cfg: RunConfig, workers: int) -> list[str]:
    """The device id each worker sees: ``--gpus``, else the parent's CUDA_VISIBLE_DEVICES,
    else ``0..N-1`` (harmless on a machine without GPUs)."""
    if cfg.gpus:
        devices = list(cfg.gpus)
    elif os.environ.get("CUDA_VISIBLE_DEVICES"):
        devices = [d for d in os.environ["CUDA_VISIBLE_DEVICES"].split(",") if d.strip()]
    else:
        devices = [str(i) for i in range(workers)]
    return [devices[i % len(devices)] for i in range(workers)]


def die_after_shard(idx: int) -> None:
    """Fault injection for the worker-death tests: with ``MEDUNIEVAL_FAULT_DIE_AFTER_SHARD=i``
    and ``MEDUNIEVAL_FAULT_MARKER=path``, the first worker to finish shard ``i`` exits at once
    (before reporting it), as a crashed or preempted worker would."""
    marker = os.environ.get("MEDUNIEVAL_FAULT_MARKER")
    if os.environ.get("MEDUNIEVAL_FAULT_DIE_AFTER_SHARD") == str(idx) and marker:
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            return
        os._exit(9)


def _worker(base: RunConfig, wid: int, device: str, tasks: Any, events: Any) -> None:
    """A worker process: loads the model once (on first need) and runs the shards it is given."""
    os.environ["CUDA_VISIBLE_DEVICES"] = device
    backend = None
    try:
        events.put(("ready", wid, None, None))
        while (idx := tasks.get()) is not None:
            try:
                eng = Engine(replace(base, shard_index=idx), backend=backend, close_backend=False)
                eng.run()
                backend = eng.loaded_backend or backend
                die_after_shard(idx)
            except Exception as exc:  # reported to the coordinator, which stops the run
                events.put(("failed", wid, idx, f"{type(exc).__name__}: {exc}"))
                return
            events.put(("done", wid, idx, None))
    finally:
        if backend is not None:
            backend.close()


def run_data_parallel(cfg: RunConfig, progress: ProgressHook | None = None) -> RunResult:
    """Run ``cfg`` with ``cfg.data_parallel`` worker processes and merge the shards."""
    workers = cfg.data_parallel
    final, base, dirs = shard_plan(cfg, workers)
    progress = progress or (lambda *_: None)
    progress("shards", 0, len(dirs))
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    devices = visible_devices(cfg, workers)
    procs: dict[int, Any] = {}
    inboxes: dict[int, Any] = {}
    todo = list(range(len(dirs)))
    holding: dict[int, int] = {}
    attempts: dict[int, int] = {}
    done: set[int] = set()

    def start(wid: int) -> None:
        inboxes[wid] = ctx.Queue()
        proc = ctx.Process(
            target=_worker, args=(base, wid, devices[wid], inboxes[wid], events), daemon=True
        )
        proc.start()
        procs[wid] = proc

    def give(wid: int) -> None:
        if todo:
            idx = todo.pop(0)
            holding[wid] = idx
            attempts[idx] = attempts.get(idx, 0) + 1
            inboxes[wid].put(idx)

    try:
        for wid in range(workers):
            start(wid)
        while len(done) < len(dirs):
            try:
                kind, wid, idx, msg = events.get(timeout=0.5)
            except queue.Empty:
                for wid, proc in list(procs.items()):
                    if proc.is_alive():
                        continue
                    lost = holding.pop(wid, None)
                    if lost is not None:
                        if attempts[lost] >= MAX_ATTEMPTS:
                            raise WorkerFailed(
                                f"shard {lost} failed {MAX_ATTEMPTS} times (worker exit code "
                                f"{proc.exitcode}); see {dirs[lost]}"
                            ) from None
                        todo.insert(0, lost)
                    start(wid)  # a replacement; it announces itself with "ready"
                continue
            if kind == "failed":
                raise WorkerFailed(f"shard {idx} ({dirs[idx]}): {msg}")
            if kind == "done":
                holding.pop(wid, None)
                done.add(idx)
                progress("shards", 1, 0)
            give(wid)
    finally:
        for wid, proc in procs.items():
            if proc.is_alive():
                inboxes[wid].put(None)
        for proc in procs.values():
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    return finish(final, dirs, base.cache)
