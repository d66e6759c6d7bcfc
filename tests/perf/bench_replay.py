"""Replay-backend throughput (not a test): end-to-end samples/s for a text MCQ benchmark and an
image VQA benchmark, and the response store's overhead per record.

    python tests/perf/bench_replay.py [--text 5000] [--images 1000] [--repeats 3]

Everything runs in one process, side by side, on synthetic copies of the real fixture rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from medunieval.demo import synth_image  # noqa: E402
from medunieval.engine import Engine, RunConfig  # noqa: E402
from medunieval.store import ResponseStore  # noqa: E402
from medunieval.types import Response  # noqa: E402

FIX = ROOT / "tests" / "fixtures"


def make_text(folder: Path, n: int) -> Path:
    rows = [json.loads(x) for x in (FIX / "medqa_test.jsonl").read_text().splitlines()]
    folder.mkdir(parents=True)
    preds = []
    with (folder / "test.jsonl").open("w") as fh:
        for i in range(n):
            row = dict(rows[i % len(rows)], realidx=f"q{i}")
            fh.write(json.dumps(row) + "\n")
            preds.append({"id": f"q{i}", "response": f"The answer is {row['answer_idx']}."})
    (folder / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    return folder


def make_images(folder: Path, n: int, size: int) -> Path:
    rows = json.loads((FIX / "vqa_rad_testset.json").read_text())
    folder.mkdir(parents=True)
    out, preds = [], []
    for i in range(n):
        row = dict(rows[i % len(rows)], qid=i, image_name=f"img{i:05d}.jpg")
        synth_image(folder / "images" / row["image_name"], seed=i, size=size)
        out.append(row)
        preds.append({"id": str(i), "response": row["answer"]})
    (folder / "testset.json").write_text(json.dumps(out))
    (folder / "preds.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    return folder


def timed_run(bench: str, folder: Path, out: Path) -> tuple[float, int]:
    cfg = RunConfig(
        model="replay",
        backend="replay",
        benchmarks=[bench],
        data_dir=folder,
        predictions=folder / "preds.jsonl",
        output=out,
        run_id=bench,
    )
    start = time.perf_counter()
    result = Engine(cfg).run()
    elapsed = time.perf_counter() - start
    summary = result.results[0].summary
    assert summary["errors"] == 0 and summary["profiles"]["strict"]["score"] == 1.0, summary
    return elapsed, summary["n"]


def store_overhead(folder: Path, n: int = 5000) -> tuple[float, float]:
    store = ResponseStore(folder / "store.sqlite")
    items = [
        (f"{i:064x}", "fp", Response(text=f"answer {i}", finish_reason="stop")) for i in range(n)
    ]
    start = time.perf_counter()
    for i in range(0, n, 64):
        store.put_many(items[i : i + 64])
    put = (time.perf_counter() - start) / n
    start = time.perf_counter()
    got = store.get_many([k for k, _, _ in items])
    get = (time.perf_counter() - start) / n
    assert len(got) == n
    store.close()
    return put, get


def median_rate(bench: str, folder: Path, out: Path, repeats: int) -> tuple[float, float, int]:
    """(cold samples/s of the first run, median samples/s of ``repeats`` warm runs, n)."""
    rates = []
    for i in range(repeats + 1):
        elapsed, n = timed_run(bench, folder, out / f"{bench}-{i}")
        rates.append(n / elapsed)
    return rates[0], statistics.median(rates[1:]), n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", type=int, default=5000)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="medunieval-perf-"))
    try:
        text = make_text(tmp / "medqa", args.text)
        imgs = make_images(tmp / "vqa_rad", args.images, args.image_size)
        cold_t, warm_t, n_text = median_rate("medqa", text, tmp / "runs", args.repeats)
        cold_i, warm_i, n_img = median_rate("vqa_rad", imgs, tmp / "runs", args.repeats)
        put, get = store_overhead(tmp)
        print(
            f"text MCQ (medqa, replay, {n_text} rows): cold {cold_t:,.0f} samples/s, "
            f"warm median of {args.repeats} {warm_t:,.0f} samples/s (goal >= 5,000)"
        )
        print(
            f"image VQA (vqa_rad, replay, {n_img} rows, {args.image_size}px JPEG): cold "
            f"{cold_i:,.0f} samples/s, warm median of {args.repeats} {warm_i:,.0f} samples/s "
            f"(goal >= 500)"
        )
        print(
            f"response store: put {put * 1e6:.1f} us/record (batches of 64), "
            f"get {get * 1e6:.1f} us/record"
        )
        print(
            f"cold = first run in this process (includes one-time imports such as NLTK); "
            f"warm/cold ratio: text {warm_t / cold_t:.2f}x, image {warm_i / cold_i:.2f}x"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
