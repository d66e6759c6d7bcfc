"""Model-based report metrics (optional; needs the ``hf`` extra and local weights).

BERTScore (Zhang et al., 2020): every token of the hypothesis is matched to its most similar
reference token by cosine similarity of contextual embeddings (precision), and vice versa
(recall); F1 is their harmonic mean. Special tokens are excluded; no IDF weighting and no
baseline rescaling, so values are comparable only for the same model and layer.

Weights are never downloaded here: ``resolve_weights`` takes a local folder or a hub id that is
already in the Hugging Face cache, and raises a one-line ``ConfigError`` naming the fix
otherwise. RaTEScore and GREEN need their own packages and checkpoints and are not bundled.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..types import Record
from .report_metrics import response_text, strict_report


def resolve_weights(model: str) -> Path:
    """The local folder holding ``model``'s weights: the path itself, or the cached snapshot of
    a hub id (offline lookup only)."""
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{path} holds no model (config.json missing)")
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception:  # not cached, or not a valid hub id
        raise ConfigError(
            f"model {model!r} is not available offline (no such folder, not in the Hugging Face "
            f"cache): fetch it once with `huggingface-cli download {model}` or pass a local folder"
        ) from None


class BertScorer:
    """Greedy-matching BERTScore with a transformers encoder loaded from local files."""

    def __init__(self, model: str, layer: int | None = None, device: str = "cpu") -> None:
        try:
            import torch  # noqa: F401
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise ConfigError(
                "BERTScore needs torch and transformers: pip install 'medunieval[hf]'"
            ) from None
        folder = resolve_weights(model)
        self.model_name, self.layer, self.device = model, layer, device
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).to(device).eval()

    def _embed(self, texts: list[str]) -> tuple[Any, Any]:
        import torch

        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        special = enc.pop("special_tokens_mask").bool()
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.no_grad():
            out = self.model(**enc, output_hidden_states=True)
        hidden = out.hidden_states[-1 if self.layer is None else self.layer]
        hidden = torch.nn.functional.normalize(hidden, dim=-1)
        mask = enc["attention_mask"].bool() & ~special.to(self.device)
        return hidden, mask

    def score(
        self, hyps: Sequence[str], refs: Sequence[str], batch_size: int = 16
    ) -> list[dict[str, float]]:
        """Per pair ``{"precision", "recall", "f1"}``; an empty side scores 0."""
        import torch

        out: list[dict[str, float]] = []
        for start in range(0, len(hyps), batch_size):
            h_texts = list(hyps[start : start + batch_size])
            r_texts = list(refs[start : start + batch_size])
            hh, hm = self._embed(h_texts)
            rh, rm_ = self._embed(r_texts)
            sim = torch.bmm(hh, rh.transpose(1, 2))
            sim = sim.masked_fill(~rm_.unsqueeze(1), -2.0).masked_fill(~hm.unsqueeze(2), -2.0)
            for i in range(len(h_texts)):
                nh, nr = int(hm[i].sum()), int(rm_[i].sum())
                if nh == 0 or nr == 0:
                    out.append({"precision": 0.0, "recall": 0.0, "f1": 0.0})
                    continue
                p = float(sim[i].max(dim=1).values[hm[i]].mean())
                r = float(sim[i].max(dim=0).values[rm_[i]].mean())
                f = 2 * p * r / (p + r) if p + r > 0 else 0.0
                out.append({"precision": p, "recall": r, "f1": f})
        return out


def bertscore_summary(records: list[Record], scorer: BertScorer) -> dict[str, Any]:
    """BERTScore of a report benchmark's records (strict texts: labels stripped on both sides),
    averaged over all samples with failed and empty reports counting 0."""
    n = len(records)
    live = [r for r in records if not r.failed and strict_report(response_text(r))]
    values = scorer.score(
        [strict_report(response_text(r)) for r in live], [strict_report(r.answer) for r in live]
    )
    totals = {k: sum(v[k] for v in values) for k in ("precision", "recall", "f1")}
    return {
        "model": scorer.model_name,
        "layer": scorer.layer if scorer.layer is not None else "last",
        "n": n,
        "empty": sum(1 for r in records if not r.failed) - len(live),
        "errors": sum(r.failed for r in records),
        **{k: (v / n if n else None) for k, v in totals.items()},
    }


def write_model_metrics(
    run_path: Path, model: str, layer: int | None = None, device: str = "cpu"
) -> dict[str, dict[str, Any]]:
    """BERTScore for every report benchmark of a run, written to ``<bench>/model_metrics.json``
    (kept apart from ``summary.json``, which ``rescore`` rewrites without a model)."""
    from ..benchmarks import BENCHMARKS
    from ..rundir import RunDir, atomic_write_json

    rd = RunDir(run_path)
    names = [n for n in rd.benchmarks() if BENCHMARKS.get(n).task == "report"]
    if not names:
        raise ConfigError(f"{run_path} holds no report-generation records")
    scorer = BertScorer(model, layer, device)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        out[name] = {"bertscore": bertscore_summary(rd.read_records(name), scorer)}
        atomic_write_json(rd.path / name / "model_metrics.json", out[name])
    return out
