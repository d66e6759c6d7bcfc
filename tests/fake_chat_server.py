"""A scriptable OpenAI-compatible chat-completions server for the API backend's fault tests.

Binds 127.0.0.1 on a free port. ``rules`` maps a substring of the last user message to a list
of behaviours consumed one per matching request (then ``ok``): ``ok``, ``("429", seconds)``
(with Retry-After), ``"500"``, ``("400", message)``, ``("sleep", seconds)``, ``"drop"`` (close
the connection without answering), ``"malformed"`` (a 200 with a broken JSON body),
``"empty"`` (a 200 with no choices), ``"sse"`` (an event stream even when none was asked for,
as ``transformers serve`` does), ``("trickle", n)`` (a streamed answer in ``n`` chunks 0.15 s
apart), ``"401"`` / ``"403"`` (the key refused), ``"echo_key"`` (an answer that quotes the
bearer token it was sent). A request with ``"stream": true`` gets its answer as server-sent
events, split in chunks, usage in the last one. Every request is logged with its time and
headers. ``answer`` is a string or a function of the prompt (the last user message's text).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that gave up (a cancelled request): not the server's bug
        super().handle_error(request, client_address)


class FakeChatServer:
    def __init__(self, answer: str | Callable[[str], str] = "A", latency_s: float = 0.0) -> None:
        self.answer = answer
        self.latency_s = latency_s
        self.rules: dict[str, list[Any]] = {}
        self.log: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer._lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    outer.handle(self, body)
                finally:
                    with outer._lock:
                        outer.in_flight -= 1

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def requests_for(self, key: str) -> list[dict[str, Any]]:
        return [e for e in self.log if key in e["prompt"]]

    def _behaviour(self, prompt: str) -> Any:
        with self._lock:
            for key, queue in self.rules.items():
                if key in prompt and queue:
                    return queue.pop(0)
        return "ok"

    def handle(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        last = body["messages"][-1]["content"]
        prompt = (
            last
            if isinstance(last, str)
            else " ".join(c.get("text", "") for c in last if c.get("type") == "text")
        )
        behaviour = self._behaviour(prompt)
        with self._lock:
            self.log.append(
                {
                    "t": time.monotonic(),
                    "prompt": prompt,
                    "body": body,
                    "auth": h.headers.get("Authorization"),
                    "behaviour": behaviour,
                }
            )
        if self.latency_s:
            time.sleep(self.latency_s)
        kind, arg = (behaviour, None) if isinstance(behaviour, str) else behaviour
        text = self.answer(prompt) if callable(self.answer) else self.answer
        if kind == "echo_key":
            text = f"You sent me {h.headers.get('Authorization', '')[7:]}, the answer is B"
        if kind == "drop":
            h.close_connection = True
            h.connection.close()
            return
        if kind == "sleep":
            time.sleep(arg)
            kind = "ok"
        if body.get("stream") or kind in ("sse", "trickle"):
            self._stream(h, body, kind, arg, text)
        elif kind == "429":
            self._send(h, 429, {"error": {"message": "slow down"}}, {"Retry-After": str(arg)})
        elif kind in ("401", "403"):
            self._send(h, int(kind), {"error": {"message": "Incorrect API key provided",
                                                "type": "invalid_request_error"}})  # fmt: skip
        elif kind == "500":
            self._send(h, 500, {"error": {"message": "internal"}})
        elif kind == "400":
            self._send(h, 400, {"error": {"message": arg, "type": "invalid_request_error"}})
        elif kind == "malformed":
            self._send_raw(h, 200, b'{"id": "x", "choices": [')
        elif kind == "empty":
            self._send(
                h,
                200,
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [],
                },
            )
        else:
            self._send(h, 200, {
                "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105},
            })  # fmt: skip

    def _stream(self, h: Any, body: dict[str, Any], kind: str, arg: Any, text: str) -> None:
        """The answer as server-sent events (closed-connection delimited)."""
        n = arg if kind == "trickle" else 2
        pieces = [text[i * len(text) // n : (i + 1) * len(text) // n] for i in range(n)]
        base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
        events = [] if kind == "empty" else [
            {**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces
        ]  # fmt: skip
        if kind != "empty":
            events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        usage = {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105}
        events.append({**base, "choices": [], "usage": usage})
        try:
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream")
            h.send_header("Connection", "close")
            h.end_headers()
            for event in events:
                h.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                h.wfile.flush()
                if kind == "trickle":
                    time.sleep(0.15)
            h.wfile.write(b"data: [DONE]\n\n")
            h.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, h: Any, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(h, status, json.dumps(obj).encode(), headers)

    @staticmethod
    def _send_raw(h: Any, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
