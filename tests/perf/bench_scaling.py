"""Data-parallel and Ray scaling, and the cost of moving responses through Ray (not a test).

1. ``--part overhead`` (default ``all``): the per-sample overhead of ``--executor ray`` in the
   current design (the driver owns all state: responses come back through Ray's object store
   and the driver writes records) next to the previous design (each actor ran whole shard runs
   that wrote records to disk, then the driver merged them; kept here as ``OldShardWorker``),
   on the same workload: N MedQA rows answered by the replay backend (generation costs nothing,
   so the times are the pipeline's). Both use 2 actors on one already started local Ray; the
   overhead per sample is (Ray time - one process time) / N, shown side by side with the ratio.
2. ``--part scaling``: samples/s of a CPU-bound tiny model for ``--data-parallel 1``,
   ``--data-parallel 2`` and ``--executor ray`` with 2 workers, with the ratio to one worker.

    python tests/perf/bench_scaling.py [--part all|overhead|scaling] [--rows 3000]
        [--samples 240] [--new-tokens 48] [--repeats 3]

Every worker uses one torch thread (OMP_NUM_THREADS=1), so on a 2-core machine the ideal
ratio for 2 workers is 2.0. The response store is off in part 2, so every configuration
generates everything. Times include spawning workers, loading the model in each and merging.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from medunieval.distributed.parallel import finish, run_data_parallel, shard_plan  # noqa: E402
from medunieval.distributed.ray_executor import run_ray  # noqa: E402
from medunieval.engine import Engine, RunConfig  # noqa: E402
from medunieval.tiny_models import build_tiny_qwen2_lm  # noqa: E402

FIX = ROOT / "tests" / "fixtures"


class OldShardWorker:
    """The previous Ray actor: it ran whole shard runs (records and summaries written by the
    actor, to a file system the driver had to share); the driver then merged the shards."""

    def __init__(self, base: RunConfig) -> None:
        self.base = base
        self.backend = None

    def run_shard(self, idx: int) -> int:
        eng = Engine(replace(self.base, shard_index=idx), backend=self.backend, close_backend=False)
        eng.run()
        self.backend = eng.loaded_backend or self.backend
        return idx


def old_ray(cfg: RunConfig) -> object:
    import ray

    final, base, dirs = shard_plan(cfg, cfg.data_parallel)
    actors = [ray.remote(num_cpus=1)(OldShardWorker).remote(base) for _ in range(cfg.data_parallel)]
    pool = ray.util.ActorPool(actors)
    list(pool.map_unordered(lambda a, i: a.run_shard.remote(i), range(len(dirs))))
    for actor in actors:
        ray.kill(actor)
    return finish(final, dirs)


def overhead(rows_n: int, repeats: int) -> None:
    """Part 1: Ray's per-sample overhead, previous design vs the driver owning all state."""
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    rows = [json.loads(x) for x in (FIX / "medqa_test.jsonl").read_text().splitlines()]
    data = tmp / "medqa"
    data.mkdir()
    with (data / "test.jsonl").open("w") as fh, (tmp / "preds.jsonl").open("w") as preds:
        for i in range(rows_n):
            row = dict(rows[i % len(rows)])
            row["question"] = f"[{i}] " + row["question"]
            fh.write(json.dumps(row) + "\n")
            preds.write(json.dumps({"id": str(i), "response": "The answer is B."}) + "\n")

    def cfg(run_id: str, workers: int, executor: str = "local") -> RunConfig:
        return RunConfig(
            model="replay-model", backend="replay", predictions=tmp / "preds.jsonl",
            benchmarks=["medqa"], data={"medqa": data}, output=tmp / "runs", run_id=run_id,
            data_parallel=workers, executor=executor,
        )  # fmt: skip

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")  # fmt: skip
    times: dict[str, list[float]] = {"one process": [], "ray, previous": [], "ray, driver": []}
    try:
        for r in range(repeats):
            for label, fn in (
                ("one process", lambda r=r: Engine(cfg(f"one{r}", 1)).run()),
                ("ray, previous", lambda r=r: old_ray(cfg(f"old{r}", 2, "ray"))),
                ("ray, driver", lambda r=r: run_ray(cfg(f"new{r}", 2, "ray"))),
            ):
                t = time.perf_counter()
                result = fn()
                times[label].append(time.perf_counter() - t)
                assert sum(x.summary["n"] for x in result.results) == rows_n
    finally:
        ray.shutdown()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{rows_n} medqa rows, replay backend, 2 Ray actors (ray.init not timed), "
          f"median of {repeats}")  # fmt: skip
    print(f"{'configuration':16} {'seconds':>8} {'samples/s':>10} {'ms/sample over one':>19}")
    for label, sec in med.items():
        over = (sec - med["one process"]) * 1e3 / rows_n
        extra = "" if label == "one process" else f"{over:19.3f}"
        print(f"{label:16} {sec:8.2f} {rows_n / sec:10.0f} {extra}")
    old = med["ray, previous"] - med["one process"]
    new = med["ray, driver"] - med["one process"]
    print(
        f"overhead per sample: previous {old * 1e3 / rows_n:.3f} ms, driver-owned "
        f"{new * 1e3 / rows_n:.3f} ms, ratio driver-owned / previous {new / old:.2f}"
    )


def scaling(samples: int, new_tokens: int) -> None:
    """Part 2: data-parallel and Ray scaling of a CPU-bound tiny model."""
    args = argparse.Namespace(samples=samples, new_tokens=new_tokens)
    tmp = Path(tempfile.mkdtemp(prefix="scaling-"))
    model = build_tiny_qwen2_lm(tmp / "tiny")
    rows = [json.loads(x) for x in (FIX / "medqa_test.jsonl").read_text().splitlines()]
    data = tmp / "medqa"
    data.mkdir()
    with (data / "test.jsonl").open("w") as fh:
        for i in range(args.samples):
            row = dict(rows[i % len(rows)])
            row["question"] = f"[{i}] " + row["question"]  # distinct prompts
            fh.write(json.dumps(row) + "\n")
    preset = tmp / "tiny.yaml"
    preset.write_text(
        f"name: tiny\nmodel: {model}\nbackend: hf\nadapter: causal_lm\ndtype: float32\n"
    )

    def cfg(run_id: str, workers: int, executor: str = "local") -> RunConfig:
        return RunConfig(
            model=str(preset), benchmarks=["medqa"], data={"medqa": data},
            max_new_tokens=args.new_tokens, batch_size=8, device="cpu",
            output=tmp / "runs", run_id=run_id, use_cache=False,
            data_parallel=workers, executor=executor,
        )  # fmt: skip

    results = []
    for label, run in (
        ("data-parallel 1", lambda: Engine(cfg("dp1", 1)).run()),
        ("data-parallel 2", lambda: run_data_parallel(cfg("dp2", 2))),
        ("ray, 2 workers", lambda: run_ray(cfg("ray2", 2, "ray"))),
    ):
        t = time.perf_counter()
        result = run()
        elapsed = time.perf_counter() - t
        n = sum(r.summary["n"] for r in result.results)
        results.append((label, n, elapsed))
    base = results[0][1] / results[0][2]
    print(f"{args.samples} medqa samples, {args.new_tokens} new tokens max, tiny Qwen2, "
          f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'configuration':18} {'samples':>7} {'seconds':>8} {'samples/s':>10} {'ratio':>6}")
    for label, n, elapsed in results:
        rate = n / elapsed
        print(f"{label:18} {n:7d} {elapsed:8.1f} {rate:10.1f} {rate / base:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("all", "overhead", "scaling"), default="all")
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=240)
    ap.add_argument("--new-tokens", type=int, default=48)
    args = ap.parse_args()
    if args.part in ("all", "overhead"):
        overhead(args.rows, args.repeats)
    if args.part in ("all", "scaling"):
        scaling(args.samples, args.new_tokens)


if __name__ == "__main__":
    main()
