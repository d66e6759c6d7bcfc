"""``--executor ray``: the driver owns all state; Ray actors only generate.

The driver runs the ordinary single-process pipeline (``Engine``: loading, request building,
the response store, records, summaries, the judge) with a ``RayBackend`` as its model. Its
``generate`` cuts the requests still to generate into chunks and sends each chunk through Ray
to one of ``--data-parallel N`` actors, which holds one model (one GPU when the cluster has
GPUs), generates and returns the responses through Ray's object store. The driver alone writes
the response store (on its own machine), the records and the summaries, so nothing is shared
over a network file system and results are those of a single process.

What actors need from a file system: the model (a hub id in their HF cache, or a path they can
see) and, for volumes and videos, the media files at the path the driver resolved (e.g.
``/data/...`` mounted on every node). Images travel inside the requests (``portable``), so a
hub dataset's embedded images never make an actor read, or Ray ship, the whole dataset.
Actors write nothing the driver reads: every actor is denied the driver's run directory and
response store (``isolation``).

An actor that dies (preempted, out of memory) is restarted by Ray; the chunks it had not
returned are given out again, up to ``MAX_ATTEMPTS`` times each. What it already returned was
handed to the driver and is kept (records and store are flushed by the driver as usual).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from ..engine import SHARD_STORE, Engine, ProgressHook, RunConfig, RunResult, store_path
from ..errors import ConfigError, MedUniEvalError, SampleError
from ..types import ImagePart, Request, Response
from .isolation import deny_paths
from .parallel import MAX_ATTEMPTS, WorkerFailed

CHUNK = 64  # requests per Ray call: one hf batch; small enough that a death loses little
VLLM_CHUNK = 1024  # vLLM schedules within a call: give it room for continuous batching
IN_FLIGHT = 2  # chunks queued per actor, so it never waits for the driver between chunks
_ENV_PREFIXES = ("HF_", "MEDUNIEVAL_", "TRANSFORMERS_", "OMP_")


def die_in_chunk(chunk: int) -> None:
    """Fault injection for the actor-death tests: with ``MEDUNIEVAL_FAULT_DIE_IN_CHUNK=i`` and
    ``MEDUNIEVAL_FAULT_MARKER=path``, the first actor to generate a response of chunk ``i``
    (of a benchmark's requests) exits at once, before returning the chunk, as a preempted
    worker would."""
    marker = os.environ.get("MEDUNIEVAL_FAULT_MARKER")
    if os.environ.get("MEDUNIEVAL_FAULT_DIE_IN_CHUNK") != str(chunk) or not marker:
        return
    try:
        with open(marker, "x"):
            pass
    except FileExistsError:
        return
    os._exit(9)


class GenerateActor:
    """The actor body: one backend (model) per actor, built exactly as ``Engine`` builds it."""

    def __init__(self, cfg: RunConfig, deny: list[str], cwd: str | None = None) -> None:
        if cwd and os.path.isdir(cwd):  # relative data / model paths mean the driver's
            os.chdir(cwd)
        self.denied = deny_paths(deny)
        plain = replace(cfg, judge=None, executor="local", data_parallel=1)
        self.backend = Engine(plain, close_backend=False).backend

    def describe(self) -> dict[str, Any]:
        return {"fingerprint": self.backend.fingerprint(), "pid": os.getpid(),
                "denied": list(self.denied)}  # fmt: skip

    def generate(self, chunk: int, requests: list[Request]) -> list[Response]:
        """Responses in the order of ``requests``."""
        slot = {(r.benchmark, r.sample_id): i for i, r in enumerate(requests)}
        out: list[Response | None] = [None] * len(requests)
        for req, resp in self.backend.generate(requests):
            out[slot[(req.benchmark, req.sample_id)]] = resp
            die_in_chunk(chunk)
        missing = [i for i, r in enumerate(out) if r is None]
        if missing:
            raise RuntimeError(f"the backend returned no response for {len(missing)} request(s)")
        return out  # type: ignore[return-value]

    def can_open(self, path: str) -> str | None:
        """Why this actor may not open ``path`` for writing (None: it may)."""
        try:
            with open(path, "a"):
                return None
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"


class _Bytes:
    """A media opener that returns bytes read by the driver (picklable, no dataset inside)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self) -> bytes:
        return self.data


def portable(req: Request) -> Request:
    """``req`` with every image's bytes inside it: a lazy opener may close over a whole
    dataset (an Arrow table of embedded images), which must not travel with each chunk.
    Volumes and videos keep their paths; an image that cannot be read keeps its opener, so
    the actor reports the same error a single process would."""
    messages = []
    for msg in req.messages:
        parts: list[Any] = []
        for part in msg.content:
            if isinstance(part, ImagePart):
                try:
                    data = part.ref.read_bytes()
                except SampleError:
                    parts.append(part)
                    continue
                part = replace(part, ref=replace(part.ref, opener=_Bytes(data)))
            parts.append(part)
        messages.append(replace(msg, content=tuple(parts)))
    return replace(req, messages=tuple(messages))


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--executor ray needs Ray: pip install 'medunieval[ray]' (or pip install ray)"
        ) from None
    return ray


class RayBackend:
    """A backend whose model runs in Ray actors; it is used by the driver's ``Engine``."""

    name = "ray"
    modalities = frozenset({"text", "image", "volume", "video"})

    def __init__(
        self,
        cfg: RunConfig,
        cacheable: bool,
        deny: list[str],
        known_fingerprint: str | None = None,
        chunk: int = CHUNK,
        carry_env: bool = True,
    ) -> None:
        """``carry_env``: give actors this process's ``HF_``, ``TRANSFORMERS_``, ``OMP_`` and
        ``MEDUNIEVAL_`` variables (not needed on a local cluster started by this process, whose
        workers inherit them; skipping it spares a worker start per actor)."""
        self.cfg = cfg
        self.cacheable = cacheable
        self.deny = deny
        self.workers = max(1, cfg.data_parallel)
        self.chunk = max(1, chunk)
        self._fingerprint = known_fingerprint
        self.carry_env = carry_env
        self.actors: list[Any] = []

    def _start(self) -> None:
        if self.actors:
            return
        ray = _ray()
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        options: dict[str, Any] = {}
        if self.carry_env:  # a cluster started elsewhere: our settings travel with the actors
            env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
            options["runtime_env"] = {"env_vars": env}
        actor_cls = ray.remote(
            num_cpus=1, num_gpus=gpus, max_restarts=MAX_ATTEMPTS - 1, max_task_retries=0,
            **options,
        )(GenerateActor)  # fmt: skip
        cwd = os.getcwd()
        self.actors = [actor_cls.remote(self.cfg, self.deny, cwd) for _ in range(self.workers)]
        from ray.exceptions import RayActorError

        try:
            self._fingerprint = ray.get(self.actors[0].describe.remote())["fingerprint"]
        except RayActorError as exc:  # the actor could not build its backend (load the model)
            lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
            self.close()
            raise ConfigError(
                f"a Ray actor could not load the model: {lines[-1] if lines else exc}"
            ) from None

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._start()
        assert self._fingerprint is not None
        return self._fingerprint

    def generate(self, requests: Sequence[Request]) -> Iterator[tuple[Request, Response]]:
        """Yields each chunk's pairs as the chunk comes back (chunks finish in any order)."""
        if not requests:
            return
        ray = _ray()
        self._start()
        from ray.exceptions import RayActorError, RayTaskError, WorkerCrashedError

        chunks = [list(requests[i : i + self.chunk]) for i in range(0, len(requests), self.chunk)]
        todo = deque(range(len(chunks)))
        attempts = [0] * len(chunks)
        load = [0] * len(self.actors)
        fails = [0] * len(self.actors)  # deaths seen per actor: prefer the healthy ones
        flight: dict[Any, tuple[int, int]] = {}  # object ref -> (actor, chunk)
        while todo or flight:
            for a in sorted(range(len(self.actors)), key=lambda i: (fails[i], load[i])):
                while todo and load[a] < IN_FLIGHT:
                    c = todo.popleft()
                    attempts[c] += 1
                    load[a] += 1
                    sent = [portable(r) for r in chunks[c]]
                    flight[self.actors[a].generate.remote(c, sent)] = (a, c)
            (ref,), _ = ray.wait(list(flight), num_returns=1)
            a, c = flight.pop(ref)
            load[a] -= 1
            try:
                responses = ray.get(ref)
            except (RayActorError, WorkerCrashedError) as exc:
                fails[a] += 1
                if attempts[c] >= MAX_ATTEMPTS:
                    raise WorkerFailed(
                        f"a chunk of {len(chunks[c])} request(s) failed {MAX_ATTEMPTS} times "
                        f"(the actor died each time): {type(exc).__name__}"
                    ) from None
                todo.appendleft(c)  # given out again; what returned before is kept
                continue
            except RayTaskError as exc:  # e.g. the server refused the key: one line, not a
                cause = getattr(exc, "cause", None)  # remote traceback
                if isinstance(cause, MedUniEvalError):
                    raise cause from None
                raise
            yield from zip(chunks[c], responses, strict=True)

    def close(self) -> None:
        if self.actors:
            ray = _ray()
            for actor in self.actors:
                ray.kill(actor)
            self.actors = []


def _init_ray(ray: Any, cfg: RunConfig) -> bool:
    """Connect to ``--ray-address`` or start a local cluster; True if started here."""
    if ray.is_initialized():
        return False
    if cfg.ray_address:
        ray.init(address=cfg.ray_address, log_to_driver=False)
    else:  # a local cluster on this machine, reachable from loopback only
        ray.init(
            num_cpus=max(1, cfg.data_parallel),
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    return True


def default_chunk(backend: str, options: dict[str, Any], concurrency: int | None) -> int:
    """Requests per Ray call: ``MEDUNIEVAL_RAY_CHUNK``, else 1,024 for vLLM, 8 x the
    concurrency (at least 64) for an API backend (an actor runs one call at a time, so each
    call ends waiting for its slowest request), else 64 (one hf batch)."""
    raw = os.environ.get("MEDUNIEVAL_RAY_CHUNK")
    if raw:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"MEDUNIEVAL_RAY_CHUNK must be a whole number, got {raw!r}") from None
    if backend == "vllm":
        return VLLM_CHUNK
    if backend == "openai":
        return max(CHUNK, 8 * int(concurrency or (options or {}).get("concurrency") or 8))
    return CHUNK


def driver_paths(engine: Engine) -> list[str]:
    """What actors are denied: the run directory and the response store (with its judge)."""
    paths = [str(engine.run_dir.path)]
    if engine.cfg.use_cache:
        paths.append(str(store_path(engine.cfg, engine.run_dir.path)))
        paths.append(str(engine.run_dir.path / SHARD_STORE))
    return paths


def run_ray(
    cfg: RunConfig, progress: ProgressHook | None = None, chunk: int | None = None
) -> RunResult:
    """Run ``cfg`` with its generation in ``cfg.data_parallel`` Ray actors and everything
    else in this process. ``chunk``: requests per Ray call (default: ``default_chunk``)."""
    from ..backends import BACKENDS

    ray = _ray()
    probe = Engine(replace(cfg, judge=None))
    if chunk is None:
        chunk = default_chunk(probe.preset.backend, probe.preset.options, cfg.concurrency)
    if chunk < 1:
        raise ConfigError(f"the Ray chunk size must be >= 1 (got {chunk})")
    manifest = probe.run_dir.read_manifest() if (probe.run_dir.path / "manifest.json").is_file() \
        else None  # fmt: skip
    known = ((manifest or {}).get("backend") or {}).get("fingerprint")
    cacheable = bool(getattr(BACKENDS.get(probe.preset.backend), "cacheable", True))
    started_here = _init_ray(ray, cfg)
    backend = RayBackend(cfg, cacheable, driver_paths(probe), known, chunk, not started_here)
    try:
        return Engine(cfg, progress, backend=backend).run()
    finally:
        backend.close()
        if started_here:
            ray.shutdown()
