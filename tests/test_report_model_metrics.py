"""Optional model-based report metrics: offline weight resolution (failure path) and BERTScore
with a tiny random BERT built in the test (happy path), end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medunieval.cli import app
from medunieval.errors import ConfigError
from medunieval.scoring import model_metrics


def test_missing_weights_is_one_line_config_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ConfigError, match="not available offline") as exc:
        model_metrics.resolve_weights("no-such-org/no-such-bert")
    assert "huggingface-cli download no-such-org/no-such-bert" in str(exc.value)
    assert "\n" not in str(exc.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="config.json missing"):
        model_metrics.resolve_weights(str(tmp_path / "empty"))


def _tiny_bert(folder: Path, words: list[str]) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *sorted(set(words))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]",
    )  # fmt: skip
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    transformers.BertModel(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


REPORTS = [
    "Findings: Heart size normal. Lungs are clear. Impression: No acute disease.",
    "Findings: Low lung volumes. Impression: Hypoinflation.",
    "Findings: Small left effusion. Impression: Effusion.",
]


@pytest.mark.slow  # imports torch + transformers and builds a model (~15 s CPU)
def test_bertscore_tiny_model_and_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medunieval.scoring import wordnet_data

    monkeypatch.setenv(wordnet_data.ENV_DATA, str(tmp_path / "nltk_data"))  # the run's METEOR
    words = " ".join(REPORTS).replace(".", " . ").replace(":", " : ").split()
    model = _tiny_bert(tmp_path / "bert", words)
    scorer = model_metrics.BertScorer(str(model))
    same, other = scorer.score(
        ["Heart size normal.", "Heart size normal."], ["Heart size normal.", "Small effusion."]
    )
    assert same["f1"] == pytest.approx(1.0, abs=1e-5)
    assert other["f1"] < 0.999 and 0 < other["precision"] and 0 < other["recall"]
    assert scorer.score([""], ["Heart"])[0]["f1"] == 0.0

    from conftest import replay_cli, write_predictions

    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for i, r in enumerate(REPORTS):
        findings, impression = r.removeprefix("Findings: ").split(" Impression: ")
        rows.append({"id": f"s{i}", "image": [f"{i}.png"], "findings": findings,
                     "impression": impression.rstrip(".")})  # fmt: skip
    (data / "test.json").write_text(json.dumps(rows))
    from medunieval.demo import synth_image

    for i in range(3):
        synth_image(data / f"{i}.png", seed=i)
    preds = write_predictions(
        tmp_path / "p.jsonl", [("iu_xray", "s0", REPORTS[0]), ("iu_xray", "s1", "Impression:")]
    )
    res = replay_cli(tmp_path, preds, ["iu_xray"], data_dir=data)
    assert res.exit_code == 3, res.output  # s2 has no prediction: 1 of 3 failed (exit policy)
    res = CliRunner().invoke(
        app, ["report-metrics", str(tmp_path / "runs" / "r1"), "--bertscore", str(model)]
    )
    assert res.exit_code == 0, res.output
    b = json.loads((tmp_path / "runs" / "r1" / "iu_xray" / "model_metrics.json").read_text())
    b = b["bertscore"]
    assert (b["n"], b["empty"], b["errors"]) == (3, 1, 1)
    assert b["f1"] == pytest.approx(1 / 3, abs=1e-5)  # s0 verbatim; empty and missing -> 0
    bad = CliRunner().invoke(
        app, ["report-metrics", str(tmp_path / "runs" / "r1"), "--bertscore", "no-org/none"]
    )
    assert bad.exit_code == 2 and "not available offline" in bad.output
