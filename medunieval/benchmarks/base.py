"""The benchmark declaration: data sources, schema mapping, prompt style, scoring kind, group-bys.

A benchmark module is a ``Benchmark(...)`` value plus one ``to_sample`` function that maps a raw
row (in any of the schemas it accepts) to a ``Sample`` -- the one place schema differences live.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import prompts
from ..data.media import file_image, hf_image
from ..data.parts import path_ref
from ..data.sources import (
    LOCAL_SUFFIXES,
    HubSource,
    RawRows,
    is_lazy,
    load_hub,
    read_local,
    read_many,
    snapshot_hub,
)
from ..data.video import VideoSpec
from ..data.volume import VolumeSpec
from ..errors import ConfigError, SampleError
from ..types import MediaRef, Message, Sample, TextPart


class SkipRow(Exception):
    """Raised by a schema mapping for a row that is not part of the benchmark split."""


class MissingField(KeyError):
    """A required field is absent from a row."""


def pick(row: dict[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` present (and not None) in ``row``."""
    for n in names:
        if n in row and row[n] is not None:
            return row[n]
    raise MissingField(" or ".join(repr(n) for n in names))


@dataclass
class RowContext:
    """What a schema mapping needs besides the row: where media live and how to fetch them."""

    bench: Benchmark
    raw: RawRows
    index: int

    @property
    def where(self) -> str:
        return f"{self.raw.origin} row {self.index}"

    def mcq(
        self,
        sample_id: Any,
        question: Any,
        choices: dict[str, str],
        answer: str,
        meta: dict[str, Any] | None = None,
        media: list[MediaRef] | None = None,
    ) -> Sample:
        """A multiple-choice sample of this benchmark (the common end of a schema mapping)."""
        return Sample(
            id=str(sample_id),
            benchmark=self.bench.name,
            question=str(question),
            answer=answer,
            answer_type="mcq",
            choices=choices,
            meta=meta or {},
            media=media or [],
        )

    def image(self, row: dict[str, Any], column: str) -> MediaRef:
        """A lazy image reference for ``row[column]`` (path, HF image cell, or lazy Arrow cell)."""
        value = row.get(column)
        if is_lazy(value) and self.raw.lazy is not None:
            lazy, index = self.raw.lazy, self.index

            def opener() -> bytes:
                cell = lazy(index, column)
                data = cell.get("bytes") if isinstance(cell, dict) else None
                if not data:
                    raise SampleError(
                        "missing_media", f"{self.where}: no image bytes in {column!r}"
                    )
                return data

            return MediaRef(kind="image", source=f"{self.where} [{column}]", opener=opener)
        if value is None or value == "":
            raise SampleError("malformed_row", f"{self.where}: missing image field {column!r}")
        if isinstance(value, str):
            if self.raw.root is None:
                raise SampleError("missing_media", f"{self.where}: image path without a data root")
            return file_image(self.raw.root, value, self.bench.image_dirs)
        return hf_image(value, self.raw.root, self.where)

    def volume(self, row: dict[str, Any], column: str) -> MediaRef:
        """A lazy 3D volume reference (NIfTI, ``.npy`` or slice folder) for ``row[column]``."""
        return self._path_media("volume", row, column)

    def video(self, row: dict[str, Any], column: str) -> MediaRef:
        """A lazy video reference (a video file or a folder of frames) for ``row[column]``."""
        return self._path_media("video", row, column)

    def _path_media(self, kind: str, row: dict[str, Any], column: str) -> MediaRef:
        value = row.get(column)
        if isinstance(value, (list, tuple)) and len(value) == 1:  # LLaVA-style ``video: [dir]``
            value = value[0]
        if not isinstance(value, str) or not value.strip():
            raise SampleError("malformed_row", f"{self.where}: missing {kind} path {column!r}")
        if self.raw.root is None:
            raise SampleError("missing_media", f"{self.where}: {kind} path without a data root")
        return path_ref(kind, self.raw.root, value)


ToSample = Callable[[dict[str, Any], RowContext], Sample]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark declaration.

    ``task``: ``mcq`` (lettered options), ``vqa`` (closed + open short answers), ``report``
    (report generation: the fixed report prompt, report metrics), ``rubric`` (judge-graded
    dialogue) or ``diagnosis`` (ranked diagnosis list).
    ``local_files``: file names looked for, in order, when ``--data-dir`` is a directory.
    ``choice_format``: how options are written in the prompt (MedUniEval's per-benchmark
    format, which its compat scorer also compares against, unless ``compat_choice_keys``).
    ``prompt_builder``: replaces the standard prompt builders (another published layout).
    ``compat_vqa``: which MedUniEval VQA scorer variant applies (vqa_rad | slake | path_vqa).
    ``compat_scorer``: a benchmark-specific compat scorer replacing both (``mmmu``).
    ``compat_answer_tag``: MedUniEval extracts ``<answer>`` before its MC judge (False for the
    benchmarks where it judges the raw response: PMC-VQA, MedFrameQA).
    ``answers_public``: False for splits whose answers are withheld (MMMU test): no score is
    reported, and ``submission(records)`` builds the file to upload to the official server.
    ``group_by``: sample ``meta`` keys reported as sub-scores (``answer_type`` is the
    sample's own closed/open/mcq); the first one stratifies seeded subsets (``suites.py``).
    ``version``: bumped when the samples, prompt or scoring change meaning; recorded in the
    manifest so the leaderboard never mixes results of different versions silently.
    ``url``: the official data file at a plain URL (downloaded once when no local data is given);
    ``url_sha256``: the file's SHA-256, checked after download (None: unpinned, a warning).
    ``judge``: the judge task its records need (``vqa`` | ``rubric`` | ``diagnosis``, see
    ``medunieval/judge.py``); None for rule-scored benchmarks.
    ``volume_spec`` / ``video_spec``: default 3D / video sampling (a model preset's
    ``options["volume"]`` / ``options["video"]`` override them; see ``data/volume.py``).
    ``local_reader``: reads local data itself (layouts that are no single table of rows).
    """

    name: str
    title: str
    task: Literal["mcq", "vqa", "report", "rubric", "diagnosis"]
    to_sample: ToSample
    hub: HubSource | None
    local_files: tuple[str, ...]
    description: str = ""
    choice_format: str = "{letter}. {text}"
    group_by: tuple[str, ...] = ()
    lazy_columns: tuple[str, ...] = ()
    image_dirs: tuple[str, ...] = ("",)
    max_new_tokens: int = 512
    lang: prompts.Lang = "en"
    compat_vqa: str | None = None
    compat_scorer: str | None = None
    prompt_prefix: Callable[[Sample], str] | None = None
    prompt_builder: Callable[[Benchmark, Sample, bool], str] | None = None
    compat_choice_keys: bool = False
    compat_answer_tag: bool = True
    answers_public: bool = True
    submission: Callable[[list[Any]], dict[str, Any]] | None = None
    row_filter: Callable[[dict[str, Any]], bool] | None = None
    version: str = "1"
    url: str | None = None
    url_sha256: str | None = None
    judge: str | None = None
    volume_spec: VolumeSpec = VolumeSpec()
    video_spec: VideoSpec = VideoSpec()
    local_reader: Callable[[Benchmark, Path], RawRows] | None = None

    # ------------------------------------------------------------------ prompts
    def formatted_choices(self, choices: dict[str, str]) -> list[str]:
        """Options as written in the prompt (and compared against by the compat scorer)."""
        return prompts.format_choices(choices, self.choice_format)

    def compat_choices(self, choices: dict[str, str]) -> list[str]:
        """What MedUniEval's ``judge_multi_choice`` compares against: the formatted options, or
        the bare letter keys where it was handed a dict (``compat_choice_keys``, MMLU-Pro)."""
        return list(choices) if self.compat_choice_keys else self.formatted_choices(choices)

    def prompt(self, sample: Sample, reasoning: bool = False) -> str:
        """The exact MedUniEval prompt text for ``sample`` (``prompt_builder`` replaces the
        standard builders for benchmarks whose published prompt has another layout)."""
        if self.prompt_builder is not None:
            text = self.prompt_builder(self, sample, reasoning)
        elif self.task == "report":
            text = prompts.REPORT_PROMPT
        elif self.task == "mcq":
            text = prompts.multiple_choice(
                sample.question, self.formatted_choices(sample.choices or {}), self.lang, reasoning
            )
        else:
            style = "open" if sample.answer_type == "open" else "closed"
            text = prompts.short_answer(sample.question, style, self.lang, reasoning)
        if self.prompt_prefix is not None:
            text = self.prompt_prefix(sample) + text
        return text

    # --------------------------------------------------------------------- data
    def resolve_local(self, path: Path) -> list[Path]:
        """The data file(s) to read for ``path``: the file itself, or in a directory the first
        ``local_files`` entry that exists. An entry may be a glob (``QA/*.json``): all matches
        are read, in name order, as one split."""
        if path.is_file():
            return [path]
        if path.is_dir():
            for name in self.local_files:
                if any(ch in name for ch in "*?["):
                    matches = sorted(p for p in path.glob(name) if p.is_file())
                    if matches:
                        return matches
                elif (path / name).is_file():
                    return [path / name]
            raise ConfigError(
                f"{self.name}: none of {list(self.local_files)} found in {path}; pass the data "
                f"file itself with --data {self.name}=FILE"
            )
        raise ConfigError(f"{self.name}: data path {path} does not exist")

    def load_raw(self, path: Path | None, revision: str | None = None) -> RawRows:
        """Raw rows from ``path`` (local) or, when None, from the official hub dataset at its
        pinned revision (``revision``: another commit, or ``latest``), checked against the
        recorded card (``data/hub_cards.yaml``)."""
        if path is not None and self.local_reader is not None:
            return self.local_reader(self, path)
        if path is not None:
            files = self.resolve_local(path)
            for file in files:
                if file.suffix.lower() not in LOCAL_SUFFIXES:
                    raise ConfigError(f"{self.name}: unsupported data file {file}")
            if len(files) == 1:
                return read_local(files[0], self.lazy_columns)
            return read_many(files, path, self.lazy_columns)
        if self.hub is None and self.url is not None:
            from ..data.download import fetch_url

            raw = self.load_raw(fetch_url(self.url, self.name, self.url_sha256))
            raw.check = "sha256 matches the pinned value" if self.url_sha256 else "unpinned URL"
            return raw
        if self.hub is None:
            raise ConfigError(
                f"{self.name} has no hub source; pass local data with --data-dir DIR or "
                f"--data {self.name}=PATH (expected one of {list(self.local_files)})"
            )
        if self.hub.snapshot:
            return self._load_snapshot(revision)
        return load_hub(self.hub, self.name, self.lazy_columns, revision)

    def _load_snapshot(self, requested: str | None) -> RawRows:
        """A hub repository read as published files (snapshot), checked like a hub load."""
        from ..data.cards import check_received, received_fields, resolve_revision

        assert self.hub is not None
        revision = resolve_revision(self.name, self.hub.revision, requested)
        raw = self.load_raw(snapshot_hub(self.hub, self.name, revision))
        raw.check = check_received(self.name, received_fields(raw.rows), len(raw), requested)
        raw.revision = revision
        raw.origin = f"{self.hub.describe(revision)} ({raw.origin})"
        return raw

    def samples(self, raw: RawRows) -> list[Sample]:
        """Map raw rows to samples. A row that cannot be mapped becomes a sample carrying a
        ``malformed_row`` error (named field and file) so it still counts."""
        out: list[Sample] = []
        for index, row in raw:
            if self.row_filter is not None and not self.row_filter(row):
                continue
            ctx = RowContext(self, raw, index)
            try:
                if "_malformed" in row:
                    raise SampleError("malformed_row", row["_malformed"])
                sample = self.to_sample(row, ctx)
            except SkipRow:
                continue
            except MissingField as exc:
                sample = self._broken(
                    index,
                    row,
                    SampleError("malformed_row", f"{ctx.where}: missing field {exc.args[0]}"),
                )
            except SampleError as exc:
                sample = self._broken(index, row, exc)
            except (TypeError, ValueError, AttributeError) as exc:
                sample = self._broken(
                    index,
                    row,
                    SampleError("malformed_row", f"{ctx.where}: {type(exc).__name__}: {exc}"),
                )
            out.append(sample)
        renamed = unique_ids(out)
        if renamed:
            shown = ", ".join(f"{old!r} -> {new!r}" for old, new in renamed[:3])
            more = f" (+{len(renamed) - 3} more)" if len(renamed) > 3 else ""
            print(
                f"warning: {self.name}: {len(renamed)} duplicate sample id(s) renamed: "
                f"{shown}{more}",
                file=sys.stderr,
            )
        return out

    def _broken(self, index: int, row: dict[str, Any], err: SampleError) -> Sample:
        rid = next(
            (str(row[k]) for k in ("id", "qid", "realidx", "_key") if row.get(k) is not None),
            str(index),
        )
        return Sample(
            id=rid,
            benchmark=self.name,
            question=str(row.get("question", "")),
            answer=str(row.get("answer", "")),
            answer_type=self.task if self.task in ("mcq", "report") else "open",
            error=err,
        )


def prior_turns(sample: Sample) -> tuple[Message, ...]:
    """The turns before the final user message of a multi-turn sample: ``meta["conversation"]``
    holds the whole prompt conversation ([{role, content}], ending with the user turn that the
    benchmark's prompt renders); single-turn samples have none."""
    turns = sample.meta.get("conversation") or []
    return tuple(Message(t["role"], (TextPart(str(t["content"])),)) for t in turns[:-1])


# ----------------------------------------------------------------------- mapping helpers
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def as_choices(options: Any) -> dict[str, str]:
    """Options as an ordered ``letter -> text`` dict, from a dict (kept as is) or a list."""
    if isinstance(options, dict):
        return {str(k).strip(): str(v) for k, v in options.items() if v is not None}
    if isinstance(options, (list, tuple)):
        return {LETTERS[i]: str(v) for i, v in enumerate(options)}
    raise ValueError(f"options must be a dict or a list, not {type(options).__name__}")


def gold_letter(choices: dict[str, str], value: Any) -> str:
    """The gold option letter from a letter, a 0-based index or the option text."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(choices):
            return list(choices)[value]
        raise ValueError(f"answer index {value} out of range for {len(choices)} options")
    text = str(value).strip()
    if text.upper() in choices:
        return text.upper()
    matches = [k for k, v in choices.items() if v.strip() == text]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(f"answer {text!r} is neither an option letter nor an option text")


def unique_ids(samples: list[Sample]) -> list[tuple[str, str]]:
    """Give every repeated sample id a fresh ``<id>~<k>`` (smallest k >= 2 that no sample of the
    dataset carries, nor an earlier renaming took), in dataset order; the first occurrence keeps
    its id. Returns the ``(old, new)`` pairs. ``dup, dup, dup~2`` -> ``dup, dup~3, dup~2``: a
    generated id never collides with a real one, wherever that occurs in the file."""
    taken = {s.id for s in samples}
    seen: set[str] = set()
    renamed: list[tuple[str, str]] = []
    for sample in samples:
        if sample.id not in seen:
            seen.add(sample.id)
            continue
        k = 2
        while f"{sample.id}~{k}" in taken:
            k += 1
        new_id = f"{sample.id}~{k}"
        taken.add(new_id)
        seen.add(new_id)
        renamed.append((sample.id, new_id))
        sample.id = new_id
    return renamed


def yes_no_closed(answer: str) -> Literal["closed", "open"]:
    """MedUniEval's VQA-RAD/PathVQA rule: closed iff the gold answer is yes or no."""
    return "closed" if answer.strip().lower() in {"yes", "no"} else "open"


def yes_no_prompt(lower: bool) -> Callable[[Benchmark, Sample, bool], str]:
    """MedUniEval's prompt choice for VQA-RAD / PathVQA, on the gold exactly as stored: the
    single-word (judgement) prompt iff the gold is ``yes``/``no`` — lower-cased but *not*
    stripped for VQA-RAD (``lower=True``), as is for PathVQA (``lower=False``) — else the open
    prompt. The closed/open split used for scoring is ``yes_no_closed`` (lower-cased and
    stripped, MedUniEval's ``cal_metrics``), so a gold ``"yes "`` or PathVQA ``"Yes"`` is asked
    with the open prompt yet scored as a closed question, as in MedUniEval."""

    def build(bench: Benchmark, sample: Sample, reasoning: bool) -> str:
        gold = sample.answer.lower() if lower else sample.answer
        style = "judgement" if gold in ("yes", "no") else "open"
        return prompts.short_answer(sample.question, style, bench.lang, reasoning)

    return build


def yes_no_vqa_sample(
    row: dict[str, Any],
    ctx: RowContext,
    id_key: str,
    image_keys: tuple[str, str],
    meta_keys: tuple[str, ...],
) -> Sample:
    """A VQA sample whose closed/open split follows the gold yes/no rule. ``image_keys`` is the
    HF column and the column of file-based exports, tried in that order."""
    answer = str(pick(row, "answer"))
    image = ctx.image(row, image_keys[0] if image_keys[0] in row else image_keys[1])
    return Sample(
        id=str(row.get(id_key, ctx.index)),
        benchmark=ctx.bench.name,
        question=str(pick(row, "question")),
        answer=answer,
        answer_type=yes_no_closed(answer),
        media=[image],
        meta={k: row[k] for k in meta_keys if row.get(k) not in (None, "")},
    )
