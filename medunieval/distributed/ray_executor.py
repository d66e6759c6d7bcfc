"""``--executor ray``: shard workers as Ray actors on an existing cluster (or a local one).

``--data-parallel N`` actors each hold one model (one GPU when the cluster has GPUs) and take
shards from a pool until none is left; the driver then merges the shard runs. Shard runs and the
response store live on the file system the driver names with ``--output`` / ``--cache``: on a
multi-machine cluster that path must be shared by every node (as on Slurm clusters). An actor
that dies is restarted and its shard re-run (``max_restarts`` / ``max_task_retries``); the
shard resumes from its records and the store, so finished requests are not generated again.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from ..engine import Engine, ProgressHook, RunConfig, RunResult
from ..errors import ConfigError
from .parallel import MAX_ATTEMPTS, die_after_shard, finish, shard_plan


class _ShardWorker:
    """The actor body: one model per actor, reused across the shards it runs."""

    def __init__(self, base: RunConfig) -> None:
        self.base = base
        self.backend: Any = None

    def run_shard(self, idx: int) -> int:
        eng = Engine(replace(self.base, shard_index=idx), backend=self.backend, close_backend=False)
        eng.run()
        self.backend = eng.loaded_backend or self.backend
        die_after_shard(idx)
        return idx


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'medunieval[ray]' (or pip install ray)"
        ) from None
    return ray


def run_ray(cfg: RunConfig, progress: ProgressHook | None = None) -> RunResult:
    """Run ``cfg`` as Ray actors (``cfg.data_parallel`` of them) and merge the shards."""
    ray = _ray()
    workers = max(1, cfg.data_parallel)
    final, base, dirs = shard_plan(cfg, workers)
    progress = progress or (lambda *_: None)
    started_here = not ray.is_initialized()
    if started_here:
        if cfg.ray_address:
            ray.init(address=cfg.ray_address, log_to_driver=False)
        else:  # a local cluster on this machine, reachable from loopback only
            # offline / cache / medunieval settings travel to the workers
            env = {k: v for k, v in os.environ.items() if k.startswith(("HF_", "MEDUNIEVAL_"))}
            ray.init(
                num_cpus=workers,
                include_dashboard=False,
                log_to_driver=False,
                _node_ip_address="127.0.0.1",
                runtime_env={"env_vars": env},
            )
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        actor_cls = ray.remote(
            num_cpus=1, num_gpus=gpus, max_restarts=MAX_ATTEMPTS - 1,
            max_task_retries=MAX_ATTEMPTS - 1,
        )(_ShardWorker)  # fmt: skip
        actors = [actor_cls.remote(base) for _ in range(workers)]
        pool = ray.util.ActorPool(actors)
        progress("shards", 0, len(dirs))
        for _ in pool.map_unordered(lambda a, i: a.run_shard.remote(i), range(len(dirs))):
            progress("shards", 1, 0)
        for actor in actors:
            ray.kill(actor)
    finally:
        if started_here:
            ray.shutdown()
    return finish(final, dirs)
