"""Data-parallel and Ray scaling (not a test): samples/s of a CPU-bound tiny model for
``--data-parallel 1``, ``--data-parallel 2`` and ``--executor ray`` with 2 workers, measured
side by side in one run, with the ratio to one worker.

    python tests/perf/bench_scaling.py [--samples 240] [--new-tokens 48]

Every worker uses one torch thread (OMP_NUM_THREADS=1), so on a 2-core machine the ideal
ratio for 2 workers is 2.0. The response store is off, so every configuration generates
everything. Times include spawning workers, loading the model in each and merging shards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from medunieval.distributed.parallel import run_data_parallel  # noqa: E402
from medunieval.distributed.ray_executor import run_ray  # noqa: E402
from medunieval.engine import Engine, RunConfig  # noqa: E402
from medunieval.tiny_models import build_tiny_qwen2_lm  # noqa: E402

FIX = ROOT / "tests" / "fixtures"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=240)
    ap.add_argument("--new-tokens", type=int, default=48)
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
