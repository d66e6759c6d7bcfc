"""Judge-stage overhead (not a test): HealthBench rubric grading through an instant scripted
judge, cold (every rubric item generated and stored) vs warm (all from the response store), and
``rescore`` reusing the stored verdicts. Timings show the harness's own cost per judge item.

    python tests/perf/bench_judge.py [--copies 10] [--repeats 3]

Rows: the 30 real HealthBench rows of tests/fixtures, repeated ``copies`` times with new ids.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from judge_helpers import ScriptedJudge, judge_preset  # noqa: E402

from medunieval.backends import BACKENDS  # noqa: E402
from medunieval.engine import Engine, RunConfig, rescore  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "healthbench_oss_eval.jsonl"


def grade(prompt: str) -> str:
    met = "true" if hash(prompt) % 2 else "false"
    return '```json\n{"explanation": "x", "criteria_met": ' + met + "}\n```"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    BACKENDS.register("scripted", ScriptedJudge)
    ScriptedJudge.script = staticmethod(grade)
    rows = [json.loads(x) for x in FIX.read_text().splitlines()]
    cold, warm, resc = [], [], []
    items = 0
    for rep in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp_:
            tmp = Path(tmp_)
            data, preds = tmp / "hb.jsonl", tmp / "preds.jsonl"
            with data.open("w") as d, preds.open("w") as p:
                for c in range(args.copies):
                    for r in rows:
                        sid = f"{r['prompt_id']}-{c}"
                        # distinct prompts, else the engine asks one generation for all copies
                        turns = [*r["prompt"][:-1], dict(r["prompt"][-1])]
                        turns[-1]["content"] += f" (case {c})"
                        d.write(json.dumps(dict(r, prompt_id=sid, prompt=turns)) + "\n")
                        p.write(json.dumps({"id": sid, "response": f"answer {c}"}) + "\n")
            items = args.copies * sum(len(r["rubrics"]) for r in rows)
            for run_id, bucket in (("cold", cold), ("warm", warm)):
                ScriptedJudge.calls = 0
                cfg = RunConfig(
                    model="replay-model",
                    benchmarks=["healthbench"],
                    backend="replay",
                    predictions=preds,
                    data={"healthbench": data},
                    output=tmp / "runs",
                    run_id=f"{run_id}{rep}",
                    judge=str(judge_preset(tmp)),
                )
                t0 = time.perf_counter()
                Engine(cfg).run()
                bucket.append(time.perf_counter() - t0)
                print(f"{run_id}: judge calls {ScriptedJudge.calls}", file=sys.stderr)
            t0 = time.perf_counter()
            rescore(tmp / "runs" / f"cold{rep}")
            resc.append(time.perf_counter() - t0)
    n = args.copies * len(rows)
    print(f"HealthBench {n} examples, {items} rubric items, median of {args.repeats}:")
    for name, ts in (("run, judge cold", cold), ("run, judge warm", warm), ("rescore", resc)):
        t = statistics.median(ts)
        print(f"  {name:16s} {t:7.2f} s  {1000 * t / items:6.3f} ms/item  {items / t:8.0f} items/s")


if __name__ == "__main__":
    main()
