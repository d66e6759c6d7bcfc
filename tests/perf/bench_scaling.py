"""Data-parallel and Ray scaling, and the cost of moving responses through Ray (not a test).

1. ``--part overhead`` (default ``all``): the per-sample overhead of ``--executor ray`` in the
   current design (the driver owns all state: responses come back through Ray's object store
   and the driver writes records) next to the previous design (each actor ran whole shard runs
   that wrote records to disk, then the driver merged them; kept here as ``OldShardWorker``),
   on the same workload: N MedQA rows answered by the replay backend (generation costs nothing,
   so the times are the pipeline's). Both use 2 actors on one already started local Ray; the
   per-sample cost is the slope between N/4 and N rows (actor start-up is a fixed cost), and
   the overhead is that minus one process's slope, shown side by side with the ratio.
2. ``--part scaling``: samples/s of a CPU-bound tiny model for ``--data-parallel 1``,
   ``--data-parallel 2`` and ``--executor ray`` with 2 workers, with the ratio to one worker.

    python tests/perf/bench_scaling.py [--part all|overhead|scaling] [--rows 8000]
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
    """Part 1: Ray's per-sample overhead, previous design vs the driver owning all state. Each
    configuration runs N/4 and N rows; the per-sample cost is the slope between the two (so
    starting actors, a fixed cost, is not spread over the samples) and the overhead is that
    slope minus one process's."""
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    rows = [json.loads(x) for x in (FIX / "medqa_test.jsonl").read_text().splitlines()]
    sizes = (rows_n // 4, rows_n)
    for n in sizes:
        data = tmp / f"d{n}" / "medqa"
        data.mkdir(parents=True)
        with (data / "test.jsonl").open("w") as fh, (tmp / f"p{n}.jsonl").open("w") as preds:
            for i in range(n):
                row = dict(rows[i % len(rows)], realidx=i)  # distinct ids and prompts
                row["question"] = f"[{i}] " + row["question"]
                fh.write(json.dumps(row) + "\n")
                preds.write(json.dumps({"id": str(i), "response": "The answer is B."}) + "\n")

    def cfg(n: int, run_id: str, workers: int, executor: str = "local") -> RunConfig:
        return RunConfig(
            model="replay-model", backend="replay", predictions=tmp / f"p{n}.jsonl",
            benchmarks=["medqa"], data={"medqa": tmp / f"d{n}" / "medqa"},
            output=tmp / "runs", run_id=f"{run_id}-{n}", data_parallel=workers,
            executor=executor,
        )  # fmt: skip

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")  # fmt: skip
    labels = ("one process", "ray, previous", "ray, driver")
    times: dict[tuple[str, int], list[float]] = {(k, n): [] for k in labels for n in sizes}
    try:
        for r in range(repeats):
            for n in sizes:
                for label, fn in (
                    ("one process", lambda n=n, r=r: Engine(cfg(n, f"one{r}", 1)).run()),
                    ("ray, previous", lambda n=n, r=r: old_ray(cfg(n, f"old{r}", 2, "ray"))),
                    ("ray, driver", lambda n=n, r=r: run_ray(cfg(n, f"new{r}", 2, "ray"))),
                ):
                    t = time.perf_counter()
                    result = fn()
                    times[(label, n)].append(time.perf_counter() - t)
                    assert sum(x.summary["n"] for x in result.results) == n
    finally:
        ray.shutdown()
    med = {k: statistics.median(v) for k, v in times.items()}
    small, large = sizes
    slope = {k: (med[(k, large)] - med[(k, small)]) * 1e3 / (large - small) for k in labels}
    print(f"\nmedqa rows, replay backend, 2 Ray actors (ray.init not timed), median of "
          f"{repeats}, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'configuration':16} {f's, {small} rows':>14} {f's, {large} rows':>14} "
          f"{'ms/sample':>10} {'overhead ms/sample':>19}")  # fmt: skip
    for k in labels:
        extra = "" if k == "one process" else f"{slope[k] - slope['one process']:19.3f}"
        print(f"{k:16} {med[(k, small)]:14.2f} {med[(k, large)]:14.2f} {slope[k]:10.3f} {extra}")
    old = slope["ray, previous"] - slope["one process"]
    new = slope["ray, driver"] - slope["one process"]
    print(
        f"Ray overhead per sample: previous design {old:.3f} ms, driver owns all state "
        f"{new:.3f} ms; ratio {new / old:.2f}"
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
    ap.add_argument("--rows", type=int, default=8000)
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
