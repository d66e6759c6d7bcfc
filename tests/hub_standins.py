"""Local stand-ins of the default hub repositories, built as ``medunieval/data/hub_cards.yaml``
records them: the files the hub serves (same paths), the recorded features and dtypes (an
``image`` feature stored as the hub's ``{bytes, path}`` struct), the card's row count where it
is small, else a few rows (the expected count is then patched to the slice, and says so).

``ROWS[bench](n)`` gives ``n`` rows with exactly the recorded feature names where a card
schema is recorded; for sources without one, the fields below are the stand-in's own
assumption (the open questions in docs/benchmarks.md), marked ``ASSUMED``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from medunieval.data import cards, sources

FULL_ROWS_UP_TO = 500  # the card's own row count is used up to this size
SLICE = 5


def png(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 37 % 256, 80, 160)).save(buf, format="PNG")
    return buf.getvalue()


def hf_image(seed: int = 0) -> dict[str, Any]:
    """An image cell as the hub's parquet files store it."""
    return {"bytes": png(seed), "path": None}


LET = "ABCDEFGHIJ"


def _vqa(n: int) -> list[dict[str, Any]]:
    answers = ["yes", "no", "left lung", "ct"]
    return [
        {"image": hf_image(i), "question": f"question {i}?", "answer": answers[i % 4]}
        for i in range(n)
    ]


def _medqa(n: int) -> list[dict[str, Any]]:
    return [
        {
            "question": f"A patient {i} presents with ...",
            "answer": f"option {i % 4}",
            "options": {x: f"option {k}" for k, x in enumerate("ABCD")},
            "meta_info": "step1" if i % 2 else "step2&3",
            "answer_idx": "ABCD"[i % 4],
            "metamap_phrases": ["patient", "presents"],
        }
        for i in range(n)
    ]


def _medmcqa(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"uuid-{i}",
            "question": f"Which nerve {i}?",
            "opa": "a",
            "opb": "b",
            "opc": "c",
            "opd": "d",
            "cop": i % 4,
            "choice_type": "single",
            "exp": "because",
            "subject_name": "Anatomy",
            "topic_name": "Nerves",
        }
        for i in range(n)
    ]


def _pubmedqa(n: int) -> list[dict[str, Any]]:  # ASSUMED: no card found
    labels = ["yes", "no", "maybe"]
    return [
        {
            "id": str(1000 + i),
            "data": {
                "Question": f"Does X {i} work?",
                "Context": [f"Background {i}.", "Results."],
                "Options": {"A": "yes", "B": "no", "C": "maybe"},
                "Correct Option": "ABC"[i % 3],
                "Correct Answer": labels[i % 3],
            },
        }
        for i in range(n)
    ]


def _mmlu_pro(n: int) -> list[dict[str, Any]]:
    return [
        {
            "question_id": 6000 + i,
            "question": f"Health question {i}?",
            "options": [f"choice {k}" for k in range(10)],
            "answer": LET[i % 10],
            "answer_index": i % 10,
            "cot_content": "",
            "category": "health" if i % 3 else "law",
            "src": "ori_mmlu-virology",
        }
        for i in range(n)
    ]


def _mmlu(n: int) -> list[dict[str, Any]]:
    subjects = ["anatomy", "college_medicine", "astronomy"]
    return [
        {
            "question": f"Question {i}?",
            "subject": subjects[i % 3],
            "choices": ["w", "x", "y", "z"],
            "answer": i % 4,
        }
        for i in range(n)
    ]


def _medbullets(options: str) -> Callable[[int], list[dict[str, Any]]]:
    def rows(n: int) -> list[dict[str, Any]]:  # ASSUMED: the official CSV columns
        out = []
        for i in range(n):
            row: dict[str, Any] = {"link": f"https://bit.ly/{i}", "question": f"Case {i}?"}
            row.update({f"op{c}": f"opt {c}" for c in options})
            letter = "ABCDE"[i % len(options)]
            row.update(answer_idx=letter, answer=f"opt {options[i % len(options)]}")
            row["explanation"] = "because"
            out.append(row)
        return out

    return rows


def _medxpertqa(n_opts: int, mm: bool) -> Callable[[int], list[dict[str, Any]]]:
    def rows(n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            row: dict[str, Any] = {
                "id": f"{'MM' if mm else 'Text'}-{i}",
                "question": f"Question {i}\nAnswer Choices: (A) ...",
                "options": {LET[k]: f"choice {k}" for k in range(n_opts)},
                "label": LET[i % n_opts],
                "medical_task": "Diagnosis",
                "body_system": "Cardiovascular",
                "question_type": "Reasoning",
            }
            if mm:
                row["images"] = [f"MM_{i}-a.jpeg"]
            out.append(row)
        return out

    return rows


def _supergpqa(n: int) -> list[dict[str, Any]]:
    return [
        {
            "uuid": f"u{i}",
            "question": f"Q{i}?",
            "options": ["p", "q", "r", "s"],
            "answer": "pqrs"[i % 4],
            "answer_letter": "ABCD"[i % 4],
            "discipline": "Medicine" if i % 4 else "Law",
            "field": "Clinical Medicine",
            "subfield": "Cardiology",
            "difficulty": "middle",
            "is_calculation": False,
        }
        for i in range(n)
    ]


def _slake(n: int) -> list[dict[str, Any]]:
    return [
        {
            "img_id": i,
            "img_name": f"xmlab{i}/source.jpg",
            "question": f"Is this organ {i} healthy?",
            "answer": "Yes" if i % 2 else "Liver",
            "q_lang": "en" if i % 3 else "zh",
            "location": "Abdomen",
            "modality": "CT",
            "answer_type": "CLOSED" if i % 2 else "OPEN",
            "base_type": "vqa",
            "content_type": "Organ",
            "triple": ["vhead", "_", "_"],
            "qid": 9000 + i,
        }
        for i in range(n)
    ]


def _omnimedvqa(n: int) -> list[dict[str, Any]]:  # ASSUMED: official QA JSON fields
    return [
        {
            "question_id": f"q{i}",
            "dataset": "RadImageNet",
            "question_type": "Modality Recognition",
            "question": f"What modality {i}?",
            "gt_answer": "CT",
            "image_path": f"Images/RadImageNet/{i}.png",
            "option_A": "CT",
            "option_B": "MR",
            "modality_type": "CT(Computed Tomography)",
        }
        for i in range(n)
    ]


def _medframeqa(n: int) -> list[dict[str, Any]]:  # ASSUMED: MedEvalKit's loader fields
    return [
        {
            "question_id": f"f{i}",
            "question": f"Which frame {i}?",
            "options": str(["first", "second", "third", "fourth"]),
            "correct_answer": "ABCD"[i % 4],
            "modality": "ultrasound",
            "image_1": hf_image(i),
            "image_2": hf_image(i + 1),
            "image_3": None,
            "image_4": None,
            "image_5": None,
        }
        for i in range(n)
    ]


def _pmc_vqa(n: int) -> list[dict[str, Any]]:  # ASSUMED: test_2.csv columns
    return [
        {
            "index": str(i),
            "Figure_path": f"PMC{i}_fig.jpg",
            "Question": f"What is shown {i}?",
            "Answer": f"choice {i % 4}",
            "Choice A": " A:choice 0",
            "Choice B": " B:choice 1",
            "Choice C": " C:choice 2",
            "Choice D": " D:choice 3",
            "Answer_label": "ABCD"[i % 4],
        }
        for i in range(n)
    ]


def _mmmu(test: bool) -> Callable[[int], list[dict[str, Any]]]:
    def rows(n: int) -> list[dict[str, Any]]:
        out = []
        for i in range(n):
            split = "test" if test else "validation"
            row: dict[str, Any] = {
                "id": f"{split}_Clinical_Medicine_{i + 1}",
                "question": f"<image 1> What is seen {i}?",
                "options": str(["a", "b", "c", "d"]),
                "explanation": "",
                "image_1": hf_image(i),
            }
            row.update({f"image_{k}": None for k in range(2, 8)})
            row.update(
                img_type="['Body Scans: MRI, CT.']",
                answer="?" if test else "ABCD"[i % 4],
                topic_difficulty="Medium",
                question_type="multiple-choice",
                subfield="Clinical Radiology",
            )
            out.append(row)
        return out

    return rows


def _cmb(n: int) -> list[dict[str, Any]]:  # ASSUMED: official CMB-Exam fields
    return [
        {
            "exam_type": "医师考试",
            "exam_class": "执业医师",
            "exam_subject": "内科",
            "question": f"问题{i}",
            "answer": "ABCD"[i % 4],
            "question_type": "单项选择题",
            "option": {"A": "甲", "B": "乙", "C": "丙", "D": "丁", "E": ""},
            "id": i,
        }
        for i in range(n)
    ]


def _cmexam(n: int) -> list[dict[str, Any]]:  # ASSUMED: the CMExam CSV columns
    return [
        {
            "Question": f"问题{i}",
            "Options": "A 甲\nB 乙\nC 丙\nD 丁\nE 戊",
            "Answer": "ABCDE"[i % 5],
            "Explanation": "",
            "Clinical Department": "内科",
        }
        for i in range(n)
    ]


def _mcmle(n: int) -> list[dict[str, Any]]:  # ASSUMED: the MedQA Mainland layout
    return [
        {
            "question": f"问题{i}",
            "options": {x: f"选项{x}" for x in "ABCDE"},
            "answer": f"选项{'ABCDE'[i % 5]}",
            "answer_idx": "ABCDE"[i % 5],
            "meta_info": "卫生法规",
        }
        for i in range(n)
    ]


def _cmmlu(n: int) -> list[dict[str, Any]]:
    return [
        {
            "": str(i),
            "Question": f"问题{i}",
            "A": "甲",
            "B": "乙",
            "C": "丙",
            "D": "丁",
            "Answer": "ABCD"[i % 4],
        }
        for i in range(n)
    ]


def _mmedbench(n: int) -> list[dict[str, Any]]:  # ASSUMED: MMedBench jsonl fields
    return [
        {
            "question": f"Question {i}?",
            "options": {x: f"opt {x}" for x in "ABCD"},
            "answer_idx": "ABCD"[i % 4],
            "rationale": "",
            "human_checked": 0,
        }
        for i in range(n)
    ]


ROWS: dict[str, Callable[[int], list[dict[str, Any]]]] = {
    "vqa_rad": _vqa,
    "path_vqa": _vqa,
    "medqa": _medqa,
    "medmcqa": _medmcqa,
    "pubmedqa": _pubmedqa,
    "mmlu_pro_med": _mmlu_pro,
    "mmlu_med": _mmlu,
    "medbullets_op4": _medbullets("abcd"),
    "medbullets_op5": _medbullets("abcde"),
    "medxpertqa_text": _medxpertqa(10, mm=False),
    "medxpertqa_mm": _medxpertqa(5, mm=True),
    "supergpqa_med": _supergpqa,
    "slake": _slake,
    "omnimedvqa": _omnimedvqa,
    "medframeqa": _medframeqa,
    "pmc_vqa": _pmc_vqa,
    "mmmu_med": _mmmu(test=False),
    "mmmu_med_test": _mmmu(test=True),
    "cmb": _cmb,
    "cmexam": _cmexam,
    "medqa_mcmle": _mcmle,
    "cmmlu_med": _cmmlu,
    "mmedbench": _mmedbench,
}

# README configs for sources whose card records none although the loader needs one (ASSUMED).
ASSUMED_README = {
    "cmb": """configs:
- config_name: CMB-Exam
  data_files:
  - split: test
    path: CMB-Exam/CMB-test/CMB-test-choice-question-merge.json
""",
}


@dataclasses.dataclass
class StandIn:
    bench: str
    folder: Path
    rows: list[dict[str, Any]]
    card: cards.HubCard


def row_count(card: cards.HubCard) -> int:
    return card.rows if card.rows is not None and card.rows <= FULL_ROWS_UP_TO else SLICE


def build(
    tmp: Path, bench: str, rows: list[dict[str, Any]] | None = None, features: Any = None
) -> StandIn:
    """Write the stand-in repository of ``bench`` under ``tmp/<repo>`` (hub layout). ``rows``
    and ``features`` replace the card-faithful ones (a changed dataset)."""
    card = cards.card_for(bench)
    assert card is not None, f"{bench}: no recorded card"
    rows = rows if rows is not None else ROWS[bench](row_count(card))
    folder = tmp / card.repo.replace("/", "__")
    folder.mkdir(parents=True, exist_ok=True)
    readme = card.readme_configs or ASSUMED_README.get(bench)
    if readme:
        (folder / "README.md").write_text(f"---\n{readme}---\n# stand-in\n", encoding="utf-8")
    if features is not None:
        _write_file(folder / card.files[0], card, rows, features)
    else:
        WRITERS.get(bench, _write_table)(folder, card, rows)
    return StandIn(bench, folder, rows, card)


def _write_table(folder: Path, card: cards.HubCard, rows: list[dict[str, Any]]) -> None:
    """The split's data file in the card's format (parquet / jsonl / json), plus one-row files
    for the other splits the README's configs name (the loader resolves them all)."""
    _write_file(folder / card.files[0], card, rows)
    readme = card.readme_configs or ASSUMED_README.get(card.bench)
    for cfg in (yaml.safe_load(readme) or {}).get("configs", []) if readme else []:
        if cfg.get("config_name", "default") != (card.config or "default"):
            continue
        for entry in cfg.get("data_files", []):
            if entry["split"] == card.split:
                continue
            name = entry["path"].replace("*", "00000-of-00001" + Path(card.files[0]).suffix)
            _write_file(folder / name, card, rows[:1])


def _write_file(
    target: Path, card: cards.HubCard, rows: list[dict[str, Any]], features: Any = None
) -> None:
    import datasets

    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".parquet":
        feats = features
        if feats is None and card.exact:
            feats = cards.features_of(card)
            assert list(rows[0]) == list(feats), (card.bench, list(rows[0]), list(feats))
        ds = datasets.Dataset.from_list(rows, features=feats)
        ds.to_parquet(str(target))
    elif target.suffix == ".jsonl":
        target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    elif target.suffix == ".json":
        target.write_text(json.dumps(rows, ensure_ascii=False))
    else:  # pragma: no cover - a card with another format needs a writer
        raise AssertionError(f"no writer for {target}")


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _write_slake(folder: Path, card: cards.HubCard, rows: list[dict[str, Any]]) -> None:
    (folder / "test.json").write_text(json.dumps(rows, ensure_ascii=False))
    _zip(folder / "imgs.zip", {f"imgs/{r['img_name']}": png(i) for i, r in enumerate(rows)})


def _write_medxpertqa_mm(folder: Path, card: cards.HubCard, rows: list[dict[str, Any]]) -> None:
    (folder / "MM").mkdir(exist_ok=True)
    (folder / "MM" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    _zip(folder / "images.zip", {f"images/{r['images'][0]}": png() for r in rows})


def _write_omnimedvqa(folder: Path, card: cards.HubCard, rows: list[dict[str, Any]]) -> None:
    root = "OmniMedVQA"
    members = {f"{root}/QA_information/Open-access/RadImageNet.json": json.dumps(rows).encode()}
    members.update({f"{root}/{r['image_path']}": png() for r in rows})
    _zip(folder / "OmniMedVQA.zip", members)


def _write_pmc_vqa(folder: Path, card: cards.HubCard, rows: list[dict[str, Any]]) -> None:
    import csv

    with (folder / "test_2.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    _zip(folder / "images_2.zip", {f"figures/{r['Figure_path']}": png() for r in rows})


def _write_cmmlu(folder: Path, card: cards.HubCard, rows: list[dict[str, Any]]) -> None:
    import csv

    members = {}
    for subject in ("anatomy", "virology", "arts"):
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        members[f"test/{subject}.csv"] = buf.getvalue().encode("utf-8")
        members[f"dev/{subject}.csv"] = buf.getvalue().encode("utf-8")
    _zip(folder / "cmmlu_v1_0_1.zip", members)


def _write_mmedbench(folder: Path, card: cards.HubCard, rows: list[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    _zip(
        folder / "MMedBench.zip",
        {"MMedBench/Test/English.jsonl": lines, "MMedBench/Test/Chinese.jsonl": lines},
    )


WRITERS = {
    "slake": _write_slake,
    "medxpertqa_mm": _write_medxpertqa_mm,
    "omnimedvqa": _write_omnimedvqa,
    "pmc_vqa": _write_pmc_vqa,
    "cmmlu_med": _write_cmmlu,
    "mmedbench": _write_mmedbench,
}

# Rows the loader receives from a stand-in when it differs from the rows written (snapshots
# of archives holding several files).
RECEIVED_ROWS = {"cmmlu_med": lambda n: 3 * n, "mmedbench": lambda n: 2 * n}


def serve(monkeypatch: Any, standins: list[StandIn]) -> list[tuple[str, str | None]]:
    """Point the hub code path at the stand-ins: ``datasets.load_dataset`` receives the local
    folder instead of the hub id, ``snapshot_download`` returns the folder. Returns the
    (repo, revision) pairs requested, in order."""
    by_repo = {s.card.repo: s for s in standins}
    asked: list[tuple[str, str | None]] = []

    def location(source: sources.HubSource) -> str:
        return str(by_repo[source.id].folder)

    def snapshot(repo_id: str, revision: str | None) -> Path:
        asked.append((repo_id, revision))
        return by_repo[repo_id].folder

    real_load = __import__("datasets").load_dataset

    def load_dataset(path: str, *args: Any, **kwargs: Any) -> Any:
        for s in standins:
            if path == str(s.folder):
                asked.append((s.card.repo, kwargs.get("revision")))
        return real_load(path, *args, **kwargs)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no reachability probe: nothing leaves
    monkeypatch.setattr(sources, "hub_location", location)
    monkeypatch.setattr(sources, "hub_snapshot", snapshot)
    monkeypatch.setattr("datasets.load_dataset", load_dataset)
    for s in standins:
        n = len(s.rows)
        received = RECEIVED_ROWS.get(s.bench, lambda k: k)(n)
        if s.card.rows is not None and s.card.rows != received:
            patch_card(monkeypatch, s.bench, rows=received)  # a slice of the card's rows
    return asked


def patch_card(monkeypatch: Any, bench: str, **changes: Any) -> None:
    table = dict(cards.all_cards())
    table[bench] = dataclasses.replace(table[bench], **changes)
    monkeypatch.setattr(cards, "all_cards", lambda: table)
