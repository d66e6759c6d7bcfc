"""Data sources: HF-schema parquet with embedded images (lazy Arrow cells), plugins."""

from __future__ import annotations

import io
from importlib.metadata import EntryPoint

import pytest
from PIL import Image

from medunieval.benchmarks import BENCHMARKS
from medunieval.benchmarks.base import Benchmark, RowContext, pick
from medunieval.data.sources import HubSource
from medunieval.registry import Registry
from medunieval.types import Sample


def _png(value: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (value, value, value)).save(buf, format="PNG")
    return buf.getvalue()


def test_hf_schema_parquet_keeps_images_on_disk_until_needed(tmp_path):
    import datasets

    rows = {
        "image": [{"bytes": _png(i * 40), "path": f"img{i}.png"} for i in range(5)],
        "question": [f"is there a lesion {i}?" for i in range(5)],
        "answer": ["yes", "no", "liver", "yes", "ct"],
    }
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
        }
    )
    datasets.Dataset.from_dict(rows, features=features).to_parquet(tmp_path / "test.parquet")

    spec = BENCHMARKS.get("vqa_rad")
    raw = spec.load_raw(tmp_path)
    assert all(repr(r["image"]) == "<lazy>" for r in raw.rows)  # no bytes held per row
    samples = spec.samples(raw)
    assert [s.answer_type for s in samples] == ["closed", "closed", "open", "closed", "open"]
    assert [s.id for s in samples] == ["0", "1", "2", "3", "4"]
    img = samples[2].media[0].open_image()
    assert img.size == (8, 8) and img.getpixel((0, 0)) == (80, 80, 80)


def test_third_party_benchmark_via_entry_point(monkeypatch):
    def to_sample(row, ctx: RowContext) -> Sample:
        return Sample(
            id="1",
            benchmark="plug",
            question=pick(row, "q"),
            answer="A",
            answer_type="mcq",
            choices={"A": "x", "B": "y"},
        )

    plugin = Benchmark(
        name="plug",
        title="Plug",
        task="mcq",
        to_sample=to_sample,
        hub=HubSource("org/plug", split="test"),
        local_files=("t.jsonl",),
    )
    import sys
    import types

    module = types.ModuleType("fake_plugin")
    module.BENCHMARK = plugin
    monkeypatch.setitem(sys.modules, "fake_plugin", module)
    ep = EntryPoint(name="plug", value="fake_plugin:BENCHMARK", group="medunieval.benchmarks")
    monkeypatch.setattr(
        "medunieval.registry.entry_points",
        lambda group: [ep] if group == "medunieval.benchmarks" else [],
    )
    reg: Registry[Benchmark] = Registry("benchmark", "medunieval.benchmarks")
    assert reg.names() == ["plug"]
    assert reg.get("plug") is plugin


def test_unknown_name_suggests_close_matches():
    from medunieval.errors import ConfigError

    with pytest.raises(ConfigError, match="Did you mean pubmedqa"):
        BENCHMARKS.get("pubmed_qa")


def test_pubmedqa_accepts_the_three_published_layouts(tmp_path):
    import json

    spec = BENCHMARKS.get("pubmedqa")
    qiaojin = [
        {
            "pubid": 1,
            "question": "Q1?",
            "context": {"contexts": ["a", "b"]},
            "final_decision": "maybe",
        }
    ]
    hf = [
        {
            "id": "x",
            "data": {
                "Question": "Q2?",
                "Context": ["c"],
                "Correct Option": "B",
                "Options": {"A": "yes", "B": "no", "C": "maybe"},
            },
        }
    ]
    (tmp_path / "q.jsonl").write_text("\n".join(json.dumps(r) for r in qiaojin + hf))
    a, b = spec.samples(spec.load_raw(tmp_path / "q.jsonl"))
    assert (a.id, a.answer, a.meta["context"]) == ("1", "C", "a\nb")
    assert (b.id, b.answer, b.meta["context"]) == ("x", "B", "c")
    assert spec.prompt(a).startswith("Context: a\nb\n\nQuestion: Q1?\nOptions: \nA.yes")


def test_archive_members_escaping_the_folder_are_refused(tmp_path):
    import zipfile

    from medunieval.data.sources import _safe_extract
    from medunieval.errors import ConfigError

    bad = tmp_path / "imgs.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("imgs/ok.jpg", b"x")
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(ConfigError, match="escaping"):
        _safe_extract(bad, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_glob_local_files_are_read_as_one_split(tmp_path):
    import json

    from medunieval.data.sources import HubSource as Hub

    def to_sample(row, ctx: RowContext) -> Sample:
        return Sample(
            id=f"{row['_file']}:{row['q']}",
            benchmark="multi",
            question=row["q"],
            answer="A",
            answer_type="mcq",
            choices={"A": "x", "B": "y"},
        )

    spec = Benchmark(
        name="multi",
        title="M",
        task="mcq",
        to_sample=to_sample,
        hub=Hub("org/m", split="test"),
        local_files=("qa/*.json",),
        prompt_builder=lambda b, s, r: f"custom {s.question}",
    )
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "b.json").write_text(json.dumps([{"q": "2"}]))
    (tmp_path / "qa" / "a.json").write_text(json.dumps([{"q": "1"}, {"q": "1b"}]))
    samples = spec.samples(spec.load_raw(tmp_path))
    assert [s.id for s in samples] == ["qa/a.json:1", "qa/a.json:1b", "qa/b.json:2"]
    assert spec.prompt(samples[0]) == "custom 1"


def test_several_parquet_files_are_read_as_one_split_with_lazy_images(tmp_path):
    import datasets

    features = datasets.Features(
        {
            "image": datasets.Image(),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
        }
    )
    for i, sub in enumerate(["a", "b"]):
        (tmp_path / sub).mkdir()
        rows = {
            "image": [{"bytes": _png(10 * i), "path": "x.png"}],
            "question": [f"q{sub}"],
            "answer": ["yes"],
        }
        datasets.Dataset.from_dict(rows, features=features).to_parquet(
            tmp_path / sub / "validation-00000-of-00001.parquet"
        )
    from medunieval.data.sources import read_many

    files = sorted(tmp_path.glob("*/validation-*.parquet"))
    raw = read_many(files, tmp_path, ("image",))
    assert [r["question"] for r in raw.rows] == ["qa", "qb"]
    assert repr(raw.rows[1]["image"]) == "<lazy>"
    assert raw.lazy(1, "image")["bytes"] == _png(10)
