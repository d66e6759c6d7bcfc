"""API backend throughput (not a test): requests/s through ``OpenAIBackend.generate`` against a
local OpenAI-compatible server that answers every request after a fixed 100 ms, for
concurrency 1, 8, 32 and 128, next to the ideal (concurrency / 0.1 s), with the client's
resident memory at the start, middle and end of each level.

    python tests/perf/bench_api.py [--n 1000] [--levels 1,8,32,128] [--latency 0.1]

The server (uvicorn + a bare ASGI app) runs in its own process on 127.0.0.1, so the client has
a core to itself on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--levels", default="1,8,32,128")
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
    reqs = [
        Request(str(i), "bench", (Message("user", (TextPart(f"question {i}?"),)),),
                GenParams(max_new_tokens=4))
        for i in range(args.n)
    ]  # fmt: skip
    print(f"{args.n} requests per level, server latency {args.latency * 1000:.0f} ms")
    print(f"{'concurrency':>11} {'req/s':>8} {'ideal':>8} {'% ideal':>8} {'errors':>6} "
          f"{'RSS MB start/mid/end':>22}")  # fmt: skip
    try:
        for level in map(int, args.levels.split(",")):
            preset = ModelPreset(
                name="bench", model="bench", backend="openai",
                options={"base_url": f"http://127.0.0.1:{port}/v1", "timeout_s": 60},
            )  # fmt: skip
            backend = OpenAIBackend.from_preset(preset, concurrency=level)
            rss = [rss_mb()]
            errors = 0
            t = time.perf_counter()
            for i, (_, resp) in enumerate(backend.generate(reqs)):
                errors += resp.error is not None
                if i == args.n // 2:
                    rss.append(rss_mb())
            elapsed = time.perf_counter() - t
            rss.append(rss_mb())
            rate = args.n / elapsed
            ideal = level / args.latency
            print(f"{level:11d} {rate:8.1f} {ideal:8.1f} {100 * rate / ideal:7.1f}% {errors:6d} "
                  f"{rss[0]:6.0f} /{rss[1]:6.0f} /{rss[2]:6.0f}")  # fmt: skip
    finally:
        server.kill()


if __name__ == "__main__":
    main()
