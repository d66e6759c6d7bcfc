"""API backend throughput (not a test): requests/s through ``OpenAIBackend.generate`` against a
local OpenAI-compatible server that answers every request after a fixed 100 ms, next to a bare
``openai.AsyncOpenAI`` loop (the same number of coroutines sharing one client, nothing else)
against the same server in the same run, and our throughput as a ratio of the bare loop's, per
concurrency level (goal >= 0.95); with the ideal (concurrency / latency) and the client's
resident memory at the start, middle and end of each of our runs.

    python tests/perf/bench_api.py [--rounds 40] [--repeats 3] [--levels 1,2,4,8,16,32]

Each level sends ``max(rounds x concurrency, 50)`` requests per measurement; ours and the bare
loop alternate ``--repeats`` times and the median of each is shown. The server (uvicorn + a
bare ASGI app) runs in its own process on 127.0.0.1, so the client has a core to itself on a
2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from medunieval.backends.openai_api import OpenAIBackend  # noqa: E402
from medunieval.presets import ModelPreset  # noqa: E402
from medunieval.types import GenParams, Message, Request, TextPart  # noqa: E402

ANSWER = json.dumps({
    "id": "x", "object": "chat.completion", "created": 0, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "B"}}],
    "usage": {"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51},
}).encode()  # fmt: skip


def serve(port: int, latency: float) -> None:
    import uvicorn

    async def app(scope, receive, send):  # a bare ASGI app: fixed latency, fixed answer
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                await send({"type": msg["type"] + ".complete"})
                if msg["type"] == "lifespan.shutdown":
                    return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await asyncio.sleep(latency)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": ANSWER})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", backlog=4096)


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def bare_loop(base_url: str, n: int, level: int) -> int:
    """The reference: ``level`` coroutines sharing one AsyncOpenAI client send ``n`` requests
    (same body as ours); returns the number of errors."""
    import openai

    client = openai.AsyncOpenAI(api_key="not-needed", base_url=base_url, max_retries=0,
                                timeout=60)  # fmt: skip
    todo = iter(range(n))
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for i in todo:
            try:
                out = await client.chat.completions.create(
                    model="bench", max_tokens=4, temperature=0.0, seed=0,
                    messages=[{"role": "user", "content": f"question {i}?"}],
                )  # fmt: skip
                errors += not out.choices
            except Exception:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(level)))
    await client.close()
    return errors


def ours(base_url: str, reqs: list[Request], level: int) -> tuple[float, float, int, list[float]]:
    """Requests/s, client CPU ms per request, errors, RSS (start, mid, end)."""
    preset = ModelPreset(name="bench", model="bench", backend="openai",
                         options={"base_url": base_url, "timeout_s": 60})  # fmt: skip
    backend = OpenAIBackend.from_preset(preset, concurrency=level)
    rss, errors = [rss_mb()], 0
    t, cpu = time.perf_counter(), time.process_time()
    for i, (_, resp) in enumerate(backend.generate(reqs)):
        errors += resp.error is not None
        if i == len(reqs) // 2:
            rss.append(rss_mb())
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    rss.append(rss_mb())
    return len(reqs) / elapsed, cpu * 1e3 / len(reqs), errors, rss


def bare(base_url: str, n: int, level: int) -> tuple[float, float, int]:
    t, cpu = time.perf_counter(), time.process_time()
    errors = asyncio.run(bare_loop(base_url, n, level))
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    return n / elapsed, cpu * 1e3 / n, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=40, help="requests per level = rounds x c")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--levels", default="1,2,4,8,16,32")
    ap.add_argument("--latency", type=float, default=0.1)
    args = ap.parse_args()
    port = free_port()
    server = mp.get_context("spawn").Process(target=serve, args=(port, args.latency), daemon=True)
    server.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    base_url = f"http://127.0.0.1:{port}/v1"
    print(f"server latency {args.latency * 1000:.0f} ms, median of {args.repeats} alternating "
          f"runs, {os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'concurrency':>11} {'requests':>8} {'ours/s':>8} {'bare/s':>8} {'ratio':>6} "
          f"{'ideal/s':>8} {'CPU ms/req ours/bare':>21} {'errors':>6} "
          f"{'RSS MB start/mid/end':>22}")  # fmt: skip
    try:
        bare(base_url, 20, 4)  # warm up imports and the server
        for level in map(int, args.levels.split(",")):
            n = max(args.rounds * level, 50)
            reqs = [
                Request(str(i), "bench", (Message("user", (TextPart(f"question {i}?"),)),),
                        GenParams(max_new_tokens=4))
                for i in range(n)
            ]  # fmt: skip
            our_rates, bare_rates, our_cpu, bare_cpu, errors, rss = [], [], [], [], 0, []
            for _ in range(args.repeats):
                rate, cpu, err, rss = ours(base_url, reqs, level)
                our_rates.append(rate)
                our_cpu.append(cpu)
                errors += err
                rate, cpu, err = bare(base_url, n, level)
                bare_rates.append(rate)
                bare_cpu.append(cpu)
                errors += err
            o, b = statistics.median(our_rates), statistics.median(bare_rates)
            oc, bc = statistics.median(our_cpu), statistics.median(bare_cpu)
            print(f"{level:11d} {n:8d} {o:8.1f} {b:8.1f} {o / b:6.3f} "
                  f"{level / args.latency:8.1f} {oc:10.2f} /{bc:9.2f} {errors:6d} "
                  f"{rss[0]:6.0f} /{rss[1]:6.0f} /{rss[2]:6.0f}")  # fmt: skip
    finally:
        server.kill()


if __name__ == "__main__":
    main()
