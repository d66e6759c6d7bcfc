"""What each default hub source looked like when its published dataset card was read: revision,
file layout, features with their dtypes, row count (``hub_cards.yaml``, packaged with the wheel),
and the load-time check of what was actually received against it.

Feature types are written in one compact notation, the same for the card file, the check and
the test stand-ins: ``string``, ``int64``, ``int32``, ``float64``, ``bool``, ``image``,
``class_label[a,b,c,d]``, ``list<string>``, ``struct{A:string,B:string}``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from ..errors import ConfigError

LATEST = "latest"


@dataclass(frozen=True)
class HubCard:
    """The recorded state of one benchmark's hub source (one repo, config and split).

    ``revision``: the commit to load (None: unpinned, ``unpinned`` says why). ``rows``: the
    split's row count (None: not published). ``features``: name -> type (None: not published;
    then only ``rows`` is checked). ``files``: the repository paths the hub serves for the
    split (the test stand-ins are built in this layout). ``schema_from``: where the recorded
    schema comes from (``card``: the card's ``dataset_info``; otherwise a short statement).
    """

    bench: str
    repo: str
    split: str
    config: str | None
    revision: str | None
    card_date: str | None
    evidence: tuple[str, ...]
    files: tuple[str, ...]
    features: dict[str, str] | None
    rows: int | None
    schema_from: str
    readme_configs: str | None = None
    unpinned: str | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        """A card's own ``dataset_info`` is checked exactly; other recorded fields are only
        required (files carry no declared schema, extra fields pass)."""
        return self.schema_from == "card"

    @property
    def short_revision(self) -> str:
        return self.revision[:7] if self.revision else "unpinned"


@cache
def all_cards() -> dict[str, HubCard]:
    """Every recorded hub source, by benchmark name."""
    text = resources.files("medunieval.data").joinpath("hub_cards.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    out: dict[str, HubCard] = {}
    for bench, entry in data.items():
        entry = dict(entry)
        out[bench] = HubCard(
            bench=bench,
            repo=entry.pop("repo"),
            split=entry.pop("split"),
            config=entry.pop("config", None),
            revision=entry.pop("revision", None),
            card_date=str(entry.pop("card_date")) if entry.get("card_date") else None,
            evidence=tuple(entry.pop("evidence", ()) or ()),
            files=tuple(entry.pop("files", ()) or ()),
            features=entry.pop("features", None),
            rows=entry.pop("rows", None),
            schema_from=entry.pop("schema_from", "card"),
            readme_configs=entry.pop("readme_configs", None),
            unpinned=entry.pop("unpinned", None),
            notes=entry.pop("notes", "") or "",
            extra={k: v for k, v in entry.items() if k != "card_date"},
        )
    return out


def card_for(bench: str) -> HubCard | None:
    return all_cards().get(bench)


# ------------------------------------------------------------------------- type notation
def feature_type(feature: Any) -> str:
    """The compact notation of a ``datasets`` feature (see the module docstring)."""
    import datasets

    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, datasets.ClassLabel):
        return f"class_label[{','.join(feature.names)}]"
    if isinstance(feature, datasets.Value):
        return str(feature.dtype).replace("large_string", "string")
    inner = getattr(feature, "feature", None)
    if inner is not None and type(feature).__name__ in ("List", "Sequence", "LargeList"):
        if isinstance(inner, dict):  # Sequence of a dict = dict of lists in old datasets
            return "list<" + _struct(inner) + ">"
        return f"list<{feature_type(inner)}>"
    if isinstance(feature, list) and len(feature) == 1:
        return f"list<{feature_type(feature[0])}>"
    if isinstance(feature, dict):
        return _struct(feature)
    return type(feature).__name__


def _struct(fields: dict[str, Any]) -> str:
    return "struct{" + ",".join(f"{k}:{feature_type(v)}" for k, v in fields.items()) + "}"


def parse_type(text: str) -> Any:
    """The ``datasets`` feature for a type in the compact notation (test stand-ins use it)."""
    import datasets

    text = text.strip()
    if text == "image":
        return datasets.Image()
    if text.startswith("class_label[") and text.endswith("]"):
        return datasets.ClassLabel(names=[n for n in text[12:-1].split(",") if n])
    if text.startswith("list<") and text.endswith(">"):
        list_type = getattr(datasets, "List", None) or datasets.Sequence  # datasets < 4
        return list_type(parse_type(text[5:-1]))
    if text.startswith("struct{") and text.endswith("}"):
        return {k: parse_type(v) for k, v in _split_fields(text[7:-1])}
    return datasets.Value(text)


def _split_fields(body: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    depth, start = 0, 0
    for i, ch in enumerate(body + ","):
        if ch in "{<[":
            depth += 1
        elif ch in "}>]":
            depth -= 1
        elif ch == "," and depth == 0:
            name, _, typ = body[start:i].partition(":")
            out.append((name.strip(), typ.strip()))
            start = i + 1
    return out


def features_of(card: HubCard) -> Any:
    """The card's features as a ``datasets.Features`` (None when the card has none)."""
    import datasets

    if card.features is None:
        return None
    return datasets.Features({k: parse_type(v) for k, v in card.features.items()})


# ------------------------------------------------------------------------- revisions
def requested_revision(bench: str, overrides: dict[str, str] | None) -> str | None:
    """The revision asked for on the command line / config for ``bench`` (``NAME=REV`` beats a
    bare ``REV``, stored under ``*``), or None."""
    if not overrides:
        return None
    return overrides.get(bench) or overrides.get("*")


def resolve_revision(bench: str, pinned: str | None, requested: str | None) -> str | None:
    """The revision to pass to the hub: the requested one (``latest`` = the default branch),
    else the pinned one, else None (unpinned: a warning says so)."""
    if requested == LATEST:
        return None
    if requested:
        return requested
    if pinned is None:
        card = card_for(bench)
        why = f" ({card.unpinned})" if card and card.unpinned else ""
        warn(
            f"{bench}: its hub source is not pinned to a revision{why}; the data may change "
            f"under the same name"
        )
    return pinned


def warn(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr)


# ------------------------------------------------------------------------- the check
def differences(card: HubCard, received: dict[str, str] | None, rows: int) -> list[str]:
    """What differs between the card and what was received (empty: nothing)."""
    out: list[str] = []
    if card.features is not None and received is not None:
        for name, typ in card.features.items():
            if name not in received:
                out.append(f"feature {name!r} ({typ}) missing")
            elif not _type_matches(typ, received[name]):
                out.append(f"feature {name!r} is {received[name]}, card says {typ}")
        if card.exact:
            for name, typ in received.items():
                if name not in card.features:
                    out.append(f"unexpected feature {name!r} ({typ})")
    if card.rows is not None and rows != card.rows:
        out.append(f"{rows} rows, card says {card.rows}")
    return out


def _type_matches(recorded: str, got: str) -> bool:
    """Equal types (struct fields in any order), or a bare ``list`` / ``struct`` (from files)
    matching any of that kind."""
    if recorded in ("list", "struct"):
        return got.startswith(recorded)
    return canonical_type(recorded) == canonical_type(got)


def canonical_type(text: str) -> str:
    """``text`` with every struct's fields sorted by name (their order carries no meaning)."""
    text = text.strip()
    if text.startswith("list<") and text.endswith(">"):
        return f"list<{canonical_type(text[5:-1])}>"
    if text.startswith("struct{") and text.endswith("}"):
        fields = sorted(_split_fields(text[7:-1]))
        return "struct{" + ",".join(f"{k}:{canonical_type(v)}" for k, v in fields) + "}"
    return text


def check_received(
    bench: str, received: dict[str, str] | None, rows: int, requested: str | None
) -> str:
    """Compare what was loaded with the recorded card. Returns the check's outcome for the
    manifest; a difference stops the run with one line (a warning when ``latest`` was asked
    for)."""
    card = card_for(bench)
    if card is None:
        return "no card recorded"
    diffs = differences(card, received, rows)
    if not diffs:
        if card.features is None and card.rows is None:
            return "nothing recorded to check"
        what = "schema and row count" if card.features is not None else "row count"
        when = f" of {card.card_date}" if card.card_date else ""
        return f"{what} match the recorded card{when}"
    where = f"{card.repo} ({card.config or 'default'}/{card.split})"
    summary = "; ".join(diffs)
    if requested == LATEST:
        warn(f"{bench}: {where} at the latest revision differs from its recorded card: {summary}")
        return f"latest revision differs from the card: {summary}"
    if card.revision:
        fix = (
            f"pin the recorded revision with --data-revision {bench}={card.revision}, or pass "
            f"--data-revision {bench}=latest to proceed with a warning"
        )
    else:
        fix = (
            f"no revision is recorded for it; check the dataset and pass "
            f"--data-revision {bench}=latest to proceed with a warning"
        )
    raise ConfigError(f"{bench}: {where} differs from its recorded card: {summary}; {fix}")


def received_features(ds: Any) -> dict[str, str]:
    """The compact notation of a loaded ``datasets.Dataset``'s features."""
    return {name: feature_type(f) for name, f in ds.features.items()}


def received_fields(rows: list[dict[str, Any]]) -> dict[str, str]:
    """Field names of rows read from published JSON/CSV files (their union; internal keys
    starting with ``_`` excluded), typed loosely: files carry no declared schema."""
    names: dict[str, str] = {}
    for row in rows:
        for k, v in row.items():
            if not k.startswith("_") and k not in names:
                names[k] = _json_type(v)
    return names


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "struct"
    return "string"
