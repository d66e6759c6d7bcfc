"""``openai``: any OpenAI-compatible chat-completions server (OpenAI, gateways for Claude or
Gemini, vLLM / SGLang / ``transformers serve``) through the official ``openai`` client.

Preset ``options``: ``base_url``; ``api_key_env`` (the NAME of the environment variable holding
the key; the key itself never appears in a file, a log, a record or an error message);
``concurrency`` (requests in flight, default 8; ``--concurrency`` overrides); ``timeout_s``
(per request, default 120); ``max_retries`` (per request, default 6); ``max_image_bytes``
(default 20 MB) and ``max_images`` (per request, default 64); ``extra_body``; ``stream``
(default false: ask for a streamed answer and assemble it, for servers such as ``transformers
serve`` that always answer with an event stream); ``price`` (``{prompt_per_1m,
completion_per_1m}`` in USD, for the run's cost in the summary); ``reasoning_model`` (true for
OpenAI's o-series: sends ``max_completion_tokens`` and no ``temperature`` / ``top_p``, which
those models reject; they sample at their own fixed temperature).

Retries: 429, 5xx, timeouts, dropped connections, malformed bodies and empty choice lists are
retried with exponential backoff and full jitter (``Retry-After`` honoured, capped at 120 s) up
to ``max_retries`` times, then recorded as an error with the last reason. Any other 4xx (bad
request, content filter) is recorded at once with the server's message.

Failing fast: a 401 or 403 stops the run at once (``AuthFailed``, exit 2: the key is wrong for
this server). A server that fails every attempt for a sustained stretch — at least
``abort_after_failures`` failed attempts in a row (default 10; 0 disables) and no answer for
``abort_after_s`` seconds (default 120), across all requests in flight — stops the run
(``ServerUnavailable``, exit 3); the samples it could not answer get no record, so re-running
the same command resumes. A key with a line break, a control or a non-ASCII character is
refused at start; a key the server echoes in an answer is replaced by ``***`` before storing.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import ConfigError, MedUniEvalError, SampleError
from ..presets import ModelPreset
from ..types import ImagePart, Request, Response, TextPart, canonical_json, sha256_hex
from .base import error_response

DEFAULTS = {
    "concurrency": 8,
    "timeout_s": 120.0,
    "max_retries": 6,
    "max_image_bytes": 20 * 1024 * 1024,
    "max_images": 64,
    "stream": False,
    "abort_after_failures": 10,
    "abort_after_s": 120.0,
}
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 120.0
POOL_WORKERS = 16  # workers sharing one client / connection pool
# options that change the answers: part of the fingerprint
_FP_OPTIONS = ("base_url", "extra_body", "max_images")


class AuthFailed(ConfigError):
    """The server refused the key (401 / 403): every request would fail the same way."""


class ServerUnavailable(MedUniEvalError):
    """The server failed every attempt for a sustained stretch; re-running resumes."""

    exit_code = 3


class _Abort(Exception):
    """Carries a run-stopping error out of a worker."""

    def __init__(self, error: MedUniEvalError) -> None:
        super().__init__(str(error))
        self.error = error


class _Health:
    """Consecutive failed attempts across every request in flight, and the time since the
    server last answered: trips when both pass their limits."""

    def __init__(self, max_failures: int, max_silence_s: float, where: str) -> None:
        self.max_failures, self.max_silence_s, self.where = max_failures, max_silence_s, where
        self.failures = 0
        self.last_answer = time.monotonic()

    def answered(self) -> None:
        self.failures = 0
        self.last_answer = time.monotonic()

    def failed(self, reason: str) -> None:
        self.failures += 1
        silence = time.monotonic() - self.last_answer
        tripped = self.max_failures and self.failures >= self.max_failures
        if tripped and silence >= self.max_silence_s:
            raise _Abort(
                ServerUnavailable(
                    f"{self.where} failed {self.failures} attempts in a row with no answer for "
                    f"{silence:.0f} s (last: {reason}); stopped. Re-run the same command to "
                    "resume once the server is back (limits: abort_after_failures, "
                    "abort_after_s in the preset's options)"
                )
            )


def check_key(key: str, env: str) -> None:
    """Refuse a key an HTTP header cannot carry (never showing it)."""
    for ch in key:
        if ch in "\r\n":
            what = "a line break (\\n or \\r)"
        elif ord(ch) > 126:
            what = "a non-ASCII character"
        elif ord(ch) < 32 or ord(ch) == 127:
            what = "a control character"
        else:
            continue
        raise ConfigError(
            f"the API key in the environment variable {env} contains {what}; set it to the "
            "bare key (a trailing newline from a file is a common cause)"
        )


class _Retryable(Exception):
    def __init__(self, kind: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.retry_after = kind, reason, retry_after


def _mime(data: bytes) -> str:
    for magic, mime in ((b"\x89PNG", "png"), (b"\xff\xd8", "jpeg"), (b"GIF8", "gif"),
                        (b"RIFF", "webp"), (b"BM", "bmp")):  # fmt: skip
        if data.startswith(magic):
            return mime
    return "png"


def _image_content(data: bytes, source: str, max_bytes: int) -> dict[str, Any]:
    if len(data) > max_bytes:
        raise SampleError(
            "image_too_large",
            f"{source}: {len(data)} bytes, above this preset's max_image_bytes ({max_bytes}); "
            "raise it in the preset if the server accepts larger images",
        )
    url = f"data:image/{_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"
    return {"type": "image_url", "image_url": {"url": url}}


def _frame_bytes(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def to_messages(req: Request, max_image_bytes: int, max_images: int) -> list[dict[str, Any]]:
    """Chat-completions messages: every turn kept, images as base64 data URLs, volume/video
    parts (anything with ``frames()``) as their sampled frames. Too many or too large images
    raise ``SampleError`` (recorded for that sample only)."""
    out: list[dict[str, Any]] = []
    n_images = 0
    for msg in req.messages:
        content: list[dict[str, Any]] = []
        for part in msg.content:
            if isinstance(part, TextPart):
                content.append({"type": "text", "text": part.text})
                continue
            if isinstance(part, ImagePart):
                images = [(part.ref.read_bytes(), part.ref.source)]
            elif hasattr(part, "frames"):
                frames = part.frames()
                images = [(_frame_bytes(f), f"{part.ref.source}#{i}") for i, f in enumerate(frames)]
            else:
                raise SampleError("unsupported_media", f"cannot send a {part.type} part")
            n_images += len(images)
            if n_images > max_images:
                raise SampleError(
                    "too_many_images",
                    f"{n_images} images/frames in one request, above this preset's max_images "
                    f"({max_images})",
                )
            content.extend(_image_content(d, src, max_image_bytes) for d, src in images)
        if all(c["type"] == "text" for c in content):
            out.append({"role": msg.role, "content": "".join(c["text"] for c in content)})
        else:
            out.append({"role": msg.role, "content": content})
    return out


def backoff_delay(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds before retry number ``attempt`` (1-based): the server's ``Retry-After`` when
    given (capped), else exponential backoff with full jitter."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP_S)
    return rng.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAIBackend:
    """``--backend openai``."""

    name = "openai"
    modalities = frozenset({"text", "image"})
    cacheable = True

    def __init__(self, preset: ModelPreset, api_key: str, options: dict[str, Any]) -> None:
        self.preset = preset
        self.model = preset.model
        self._key = api_key
        self.options = options
        self.base_url = options.get("base_url")
        self.concurrency = int(options["concurrency"])
        self.timeout_s = float(options["timeout_s"])
        self.max_retries = int(options["max_retries"])
        self.stream = bool(options["stream"])
        self.abort_after_failures = int(options["abort_after_failures"])
        self.abort_after_s = float(options["abort_after_s"])

    @classmethod
    def from_preset(
        cls, preset: ModelPreset, concurrency: int | None = None, **_: Any
    ) -> OpenAIBackend:
        try:
            import openai  # noqa: F401
        except ImportError:
            raise ConfigError(
                "the openai backend needs the openai client: pip install 'medunieval[api]'"
            ) from None
        options = {**DEFAULTS, **(preset.options or {})}
        if concurrency is not None:
            options["concurrency"] = concurrency
        if int(options["concurrency"]) < 1:
            raise ConfigError(f"concurrency must be >= 1, got {options['concurrency']}")
        env = options.get("api_key_env")
        key = "not-needed"  # local servers (vLLM, transformers serve) accept any key
        if env:
            key = os.environ.get(env, "")
            if not key:
                raise ConfigError(
                    f"model preset {preset.name}: the API key is read from the environment "
                    f"variable {env}, which is not set"
                )
            check_key(key, env)
        return cls(preset, key, options)

    @classmethod
    def identity(cls, preset: ModelPreset) -> str:
        """The fingerprint, from the preset alone (no client, no key needed)."""
        options = {**DEFAULTS, **(preset.options or {})}
        opts = {k: options.get(k) for k in _FP_OPTIONS}
        digest = sha256_hex(canonical_json(opts).encode())[:12]
        return f"openai:{preset.model}:{digest}"

    def fingerprint(self) -> str:
        return self.identity(self.preset)

    def close(self) -> None:
        self._key = ""

    def redact(self, text: str) -> str:
        """``text`` with the API key (and bearer headers) removed."""
        if self._key and self._key != "not-needed":
            text = text.replace(self._key, "***")
        return text

    # ---------------------------------------------------------------------------- generation
    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        """Streams (request, response) pairs as they finish; at most ``concurrency`` requests
        are in flight, and only about that many are built at a time. If the caller stops
        early (an error, a closed generator), no new request is sent; those in flight finish."""
        results: queue.Queue[tuple[Request, Response] | None] = queue.Queue()
        errors: list[BaseException] = []
        stop = threading.Event()

        def runner() -> None:
            try:
                asyncio.run(self._run_all(requests, results, stop))
            except BaseException as exc:  # surfaced in the calling thread
                errors.append(exc)
            finally:
                results.put(None)

        thread = threading.Thread(target=runner, name="medunieval-openai", daemon=True)
        thread.start()
        try:
            while (item := results.get()) is not None:
                yield item
        finally:
            stop.set()
        thread.join()
        if errors:
            raise errors[0]

    async def _run_all(
        self, requests: Sequence[Request], results: queue.Queue, stop: threading.Event
    ) -> None:
        import openai

        # One client (connection pool) per POOL_WORKERS workers: the pool's bookkeeping per
        # request grows with its connection count, so several small pools cost less CPU.
        clients = [
            openai.AsyncOpenAI(
                api_key=self._key, base_url=self.base_url, max_retries=0, timeout=self.timeout_s
            )
            for _ in range(-(-self.concurrency // POOL_WORKERS))
        ]
        pending: asyncio.Queue[Request | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        health = _Health(
            self.abort_after_failures, self.abort_after_s, f"the server at {self.where()}"
        )
        abort: list[MedUniEvalError] = []
        tasks: list[asyncio.Task[None]] = []

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            client = clients[seed // POOL_WORKERS]
            while (req := await pending.get()) is not None:
                if stop.is_set():  # the caller is gone: drain without sending
                    continue
                try:
                    resp = await self._one(client, req, rng, health)
                except _Abort as exc:  # the run stops: nothing more is sent by anyone
                    abort.append(exc.error)
                    for task in tasks:
                        if task is not asyncio.current_task():
                            task.cancel()
                    return
                except Exception as exc:  # a per-sample bug must not stall the other workers
                    reason = self.redact(f"{type(exc).__name__}: {exc}")[:500]
                    resp = error_response("backend_error", reason)
                results.put((req, resp))

        async def feed() -> None:
            for req in requests:
                if stop.is_set():
                    break
                await pending.put(req)
            for _ in range(self.concurrency):
                await pending.put(None)

        tasks.extend(asyncio.create_task(worker(i)) for i in range(self.concurrency))
        tasks.append(asyncio.create_task(feed()))
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients:
            await client.close()
        if abort:
            raise abort[0]

    def where(self) -> str:
        return self.base_url or "api.openai.com"

    async def _one(
        self, client: Any, req: Request, rng: random.Random, health: _Health | None = None
    ) -> Response:
        try:
            messages = to_messages(
                req, int(self.options["max_image_bytes"]), int(self.options["max_images"])
            )
        except SampleError as exc:
            return error_response(exc.kind, exc.reason)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": req.params.max_new_tokens,
            "temperature": req.params.temperature,
            "seed": req.params.seed,
        }
        if req.params.temperature > 0:
            body["top_p"] = req.params.top_p
        if self.options.get("reasoning_model"):  # o-series: fixed sampling, a completion budget
            body["max_completion_tokens"] = body.pop("max_tokens")
            body.pop("temperature")
            body.pop("top_p", None)
        if self.options.get("extra_body"):
            body["extra_body"] = self.options["extra_body"]
        last: _Retryable | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(backoff_delay(attempt, last.retry_after if last else None, rng))
            start = time.perf_counter()
            try:
                resp = await self._bounded(self._attempt(client, body, start))
                if health is not None:
                    health.answered()
                return resp
            except _Retryable as exc:
                last = exc
            except asyncio.TimeoutError:  # the whole answer (all chunks) took too long
                last = _Retryable("timeout", f"no answer within {self.timeout_s:g} s")
            except Exception as exc:
                final = self._classify(exc)
                if isinstance(final, Response):
                    if health is not None:
                        health.answered()  # a final 4xx: the server is up and answering
                    return final
                last = final
            if health is not None:
                health.failed(last.kind)
        assert last is not None
        return error_response(
            last.kind, self.redact(f"{last.reason} (gave up after {self.max_retries} retries)")
        )

    async def _bounded(self, attempt: Any) -> Response:
        """``attempt`` bounded by ``timeout_s`` (``asyncio.timeout`` where available: no extra
        task per request, unlike ``wait_for``)."""
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(self.timeout_s):
                return await attempt
        return await asyncio.wait_for(attempt, self.timeout_s)

    async def _attempt(self, client: Any, body: dict[str, Any], start: float) -> Response:
        if self.stream:
            return await self._streamed(client, body, start)
        return self._parse(await client.chat.completions.create(**body), start)

    async def _streamed(self, client: Any, body: dict[str, Any], start: float) -> Response:
        """One streamed completion, its deltas joined into one Response."""
        stream = await client.chat.completions.create(
            **body, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        finish, usage, seen_choice = None, None, False
        async for chunk in stream:
            usage = getattr(chunk, "usage", None) or usage
            for choice in getattr(chunk, "choices", None) or []:
                if getattr(choice, "index", 0) != 0:
                    continue
                seen_choice = True
                delta = getattr(choice, "delta", None)
                if getattr(delta, "content", None):
                    parts.append(delta.content)
                finish = getattr(choice, "finish_reason", None) or finish
        if not seen_choice:
            raise _Retryable("empty_choices", "the server streamed no choices")
        if not parts and finish == "content_filter":
            return error_response("content_filter", "the server's content filter blocked it")
        return Response(
            text=self.redact("".join(parts)),
            finish_reason=finish,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            latency_s=time.perf_counter() - start,
        )

    def _parse(self, completion: Any, start: float) -> Response:
        if isinstance(completion, str):  # the client got a body that is not JSON
            if completion.lstrip().startswith("data:"):
                return error_response(
                    "malformed_response",
                    "the server answered a non-streaming request with an event stream; set "
                    "`stream: true` in the model preset's options",
                )
            raise _Retryable("malformed_response", f"a non-JSON body: {completion[:200]!r}")
        choices = getattr(completion, "choices", None)
        if not choices:
            raise _Retryable("empty_choices", "the server returned no choices")
        choice = choices[0]
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        if text is None and getattr(choice, "finish_reason", None) == "content_filter":
            return error_response("content_filter", "the server's content filter blocked it")
        if text is None:
            raise _Retryable("malformed_response", "a choice without message content")
        usage = getattr(completion, "usage", None)
        return Response(
            text=self.redact(text),
            finish_reason=getattr(choice, "finish_reason", None),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            latency_s=time.perf_counter() - start,
        )

    def _classify(self, exc: Exception) -> Response | _Retryable:
        """A final error Response, or a retryable failure."""
        import openai

        msg = self.redact(" ".join(str(exc).split()) or type(exc).__name__)[:500]
        if isinstance(exc, openai.APITimeoutError):
            return _Retryable("timeout", f"no answer within {self.timeout_s:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return _Retryable("connection_error", msg)
        if isinstance(exc, openai.RateLimitError):
            return _Retryable("rate_limited", msg, _retry_after(exc))
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in (401, 403):
                raise _Abort(
                    AuthFailed(
                        f"HTTP {status} from {self.where()}: {msg}; the server refused the key "
                        f"(check {self.options.get('api_key_env') or 'the API key'} and its "
                        f"access to model {self.model})"
                    )
                )
            if status >= 500 or status in (408, 409):
                return _Retryable("server_error", f"HTTP {status}: {msg}", _retry_after(exc))
            kind = (
                "content_filter"
                if "content" in msg.lower() and "filter" in msg.lower()
                else ("bad_request")
            )
            return error_response(kind, f"HTTP {status}: {msg}")
        if isinstance(exc, (openai.APIResponseValidationError, json.JSONDecodeError, ValueError)):
            return _Retryable("malformed_response", msg)
        return _Retryable("api_error", f"{type(exc).__name__}: {msg}")
