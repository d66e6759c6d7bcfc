"""Report-metric cost (not a test): per-sample scoring time of each profile and of each metric,
and the corpus CIDEr pass, side by side on the real IU-Xray fixture rows.

    python tests/perf/bench_report_metrics.py [--n 1000] [--repeats 3]

Hypotheses are other samples' references (realistic overlap); WordNet is built beforehand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from medunieval.scoring import report_metrics as rm  # noqa: E402
from medunieval.scoring.wordnet_data import wordnet  # noqa: E402


def _pairs(n: int) -> list[tuple[str, str]]:
    rows = json.loads((ROOT / "tests" / "fixtures" / "iu_xray_test.json").read_text())
    refs = [f"Findings: {r['findings']} Impression: {r['impression']}." for r in rows]
    return [(refs[i % len(refs)], refs[(i + 1) % len(refs)]) for i in range(n)]


def _time(fn, repeats: int) -> float:
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t)
    return statistics.median(best)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    t = time.perf_counter()
    wordnet()
    print(f"WordNet load (build if needed + read): {time.perf_counter() - t:.2f} s")
    pairs = _pairs(a.n)
    toks = [(rm.strict_tokens(r), rm.strict_tokens(h)) for r, h in pairs]
    cases = {
        "compat per-sample (all metrics)": lambda: [rm.compat_sample(r, h) for r, h in pairs],
        "strict per-sample (all metrics)": lambda: [rm.strict_sample(r, h) for r, h in pairs],
        "  BLEU-1..4 (nltk)": lambda: [rm.bleu(r, h) for r, h in toks],
        "  ROUGE (rouge 1.0.1)": lambda: [rm.compat._rouge(h, r) for r, h in pairs],
        "  ROUGE (rouge-score)": lambda: [rm.rouge_strict(h, r) for r, h in pairs],
        "  METEOR (nltk + WordNet)": lambda: [rm.meteor(r, h) for r, h in toks],
        "CIDEr-D corpus pass": lambda: rm.cider([h for _, h in toks], [[r] for r, _ in toks]),
    }
    print(f"{a.n} samples, median of {a.repeats}:")
    for name, fn in cases.items():
        s = _time(fn, a.repeats)
        print(f"{name:36s} {s:7.3f} s  {1000 * s / a.n:7.3f} ms/sample")


if __name__ == "__main__":
    main()
