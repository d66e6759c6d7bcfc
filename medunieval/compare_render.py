"""Render a :class:`compare.Comparison` as Markdown, JSON or a self-contained HTML page."""

from __future__ import annotations

import html
import json
from typing import Any

from .compare import BenchComparison, Comparison, SampleDiff
from .report import CSS

FORMATS = ("md", "json", "html")
KIND_TEXT = {
    "verdict_flip": "verdict flip",
    "error": "error on one side",
    "other_profile_flip": "verdict flip (other profile)",
    "extracted": "extracted answer differs",
    "response": "response text differs",
}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _delta(bc: BenchComparison) -> str:
    return "-" if bc.delta is None else f"{100 * bc.delta:+.1f}"


def _ci(bc: BenchComparison) -> str:
    return "-" if bc.ci is None else f"[{100 * bc.ci[0]:+.1f}, {100 * bc.ci[1]:+.1f}]"


def _short(text: str | None, limit: int = 400) -> str:
    if text is None:
        return "(none)"
    return text if len(text) <= limit else text[:limit] + f"… (+{len(text) - limit} chars)"


def _md_cell(text: str | None, limit: int = 400) -> str:
    return "`" + _short(text, limit).replace("`", "'").replace("|", "\\|").replace("\n", "⏎") + "`"


def _divergence_text(d: SampleDiff) -> str:
    div = d.divergence
    if div is None:
        return "-"
    return f"{div['unit']} {div['index']}"


def score_rows(cmp: Comparison) -> list[list[str]]:
    """One row per (pair, benchmark): scores, delta, CI, p, agreement rates."""
    rows = []
    for p in cmp.pairs:
        for bc in p.benchmarks:
            rows.append(
                [
                    bc.benchmark,
                    f"{p.a} → {p.b}",
                    str(bc.n),
                    _pct(bc.score_a),
                    _pct(bc.score_b),
                    _delta(bc),
                    _ci(bc),
                    "-" if bc.p_value is None else f"{bc.p_value:.3g}",
                    {True: "yes", False: "no", None: "-"}[bc.significant],
                    _pct(bc.rate(bc.same_response)),
                    _pct(bc.rate(bc.same_stripped)),
                    _pct(bc.rate(bc.same_extracted)),
                    _pct(bc.rate(bc.same_verdict) if bc.note is None else None),
                    f"{bc.lost}/{bc.gained}",
                    _pct(bc.same_token_count / bc.token_counts if bc.token_counts else None),
                    _pct(bc.rate(bc.same_finish)),
                ]
            )
    return rows


HEADER = [
    "benchmark",
    "runs (A → B)",
    "n paired",
    "A %",
    "B %",
    "Δ pp",
    "95% CI (pp)",
    "p (McNemar)",
    "significant",
    "responses identical %",
    "identical after strip %",
    "extracted agree %",
    "verdicts agree %",
    "lost/gained",
    "completion tokens equal %",
    "finish reasons agree %",
]


def render_md(cmp: Comparison, max_samples: int = 50) -> str:
    """Markdown: setup differences, the score/agreement table, then disagreeing samples."""
    out = [f"# Run comparison ({cmp.profile} profile)", ""]
    for r in cmp.runs:
        out.append(f"- `{r.label}`: {r.path}")
    out.append("")
    if cmp.setup:
        out += ["## What differs between the runs", ""]
        out.append("| field | " + " | ".join(f"`{r.label}`" for r in cmp.runs) + " |")
        out.append("|---" * (len(cmp.runs) + 1) + "|")
        for key, values in cmp.setup:
            out.append(f"| {key} | " + " | ".join(str(v) for v in values) + " |")
        out.append("")
    for p in cmp.pairs:
        for prob in p.input_problems:
            out.append(f"> **inputs differ** ({p.b}): {prob}")
    out += ["## Scores and agreement", ""]
    out.append("| " + " | ".join(HEADER) + " |")
    out.append("|---" * len(HEADER) + "|")
    out += ["| " + " | ".join(r) + " |" for r in score_rows(cmp)]
    out += [f"\n{bc.benchmark}: {bc.note}." for p in cmp.pairs for bc in p.benchmarks if bc.note]
    out += [
        "",
        f"Δ = B − A on the paired samples; CI: paired bootstrap; significant: p < {cmp.alpha}. "
        f"First divergence by {'token id' if cmp.token_level else 'character'} "
        + ("" if cmp.token_level else "(the records hold no token ids)."),
        "",
    ]
    for p in cmp.pairs:
        for bc in p.benchmarks:
            if not bc.disagreements:
                continue
            out += [f"## {bc.benchmark}: {p.a} vs {p.b} — {len(bc.disagreements)} disagreement(s)"]
            out.append("")
            out.append("| id | kind | first divergence | A response | B response | A | B |")
            out.append("|---|---|---|---|---|---|---|")
            for d in bc.disagreements[:max_samples]:
                ok = {True: "right", False: "wrong"}
                out.append(
                    f"| {d.id} | {KIND_TEXT[d.kind]} | {_divergence_text(d)} | "
                    f"{_md_cell(d.a.response or d.a.error)} | "
                    f"{_md_cell(d.b.response or d.b.error)} | "
                    f"{ok[d.a.correct]} ({d.a.extracted}) | {ok[d.b.correct]} ({d.b.extracted}) |"
                )
            if len(bc.disagreements) > max_samples:
                out.append(f"\n{len(bc.disagreements) - max_samples} more (see `--format json`).")
            out.append("")
    return "\n".join(out) + "\n"


def render_json(cmp: Comparison) -> str:
    """JSON: every disagreeing sample under its sample id."""
    return json.dumps(cmp.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _mark(text: str | None, index: int | None) -> str:
    """HTML-escaped text with the character at ``index`` onwards highlighted."""
    if text is None:
        return "<em>(none)</em>"
    text = _short(text, 4000)
    if index is None or index >= len(text):
        return html.escape(text)
    return html.escape(text[:index]) + "<mark>" + html.escape(text[index:]) + "</mark>"


EXTRA_CSS = """
td.text{max-width:480px;white-space:pre-wrap;word-break:break-word;font-family:monospace}
mark{background:#fd6}.flip{background:#fee}
"""


def render_html(cmp: Comparison, max_samples: int = 500) -> str:
    """A self-contained page (no script, no external resource)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>medunieval compare</title><style>{CSS}{EXTRA_CSS}</style></head><body>",
        f"<h1>Run comparison ({esc(cmp.profile)} profile)</h1><ul>",
    ]
    parts += [f"<li><code>{esc(r.label)}</code>: {esc(str(r.path))}</li>" for r in cmp.runs]
    parts.append("</ul>")
    if cmp.setup:
        head = "".join(f"<th>{esc(r.label)}</th>" for r in cmp.runs)
        body = "".join(
            f"<tr><td>{esc(k)}</td>" + "".join(f"<td>{esc(str(v))}</td>" for v in vals) + "</tr>"
            for k, vals in cmp.setup
        )
        parts.append(f"<h2>What differs</h2><table><tr><th>field</th>{head}</tr>{body}</table>")
    for p in cmp.pairs:
        parts += [
            f"<p class='bad'>inputs differ ({esc(p.b)}): {esc(x)}</p>" for x in p.input_problems
        ]
    head = "".join(f"<th>{esc(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in score_rows(cmp)
    )
    parts.append(f"<h2>Scores and agreement</h2><table id='scores'><tr>{head}</tr>{body}</table>")
    parts += [
        f"<p>{esc(bc.benchmark)}: {esc(bc.note)}.</p>"
        for p in cmp.pairs
        for bc in p.benchmarks
        if bc.note
    ]
    unit = "token id" if cmp.token_level else "character (the records hold no token ids)"
    parts.append(
        f"<p>Δ = B − A on paired samples; CI: paired bootstrap; significant: p &lt; {cmp.alpha}. "
        f"Highlighted: from the first divergence, by {esc(unit)}.</p>"
    )
    for p in cmp.pairs:
        for bc in p.benchmarks:
            if not bc.disagreements:
                continue
            parts.append(
                f"<h2>{esc(bc.benchmark)}: {esc(p.a)} vs {esc(p.b)} — "
                f"{len(bc.disagreements)} disagreement(s)</h2>"
                "<table class='diffs'><tr><th>id</th><th>kind</th><th>A response</th>"
                "<th>B response</th><th>A</th><th>B</th></tr>"
            )
            for d in bc.disagreements[:max_samples]:
                div = d.divergence
                idx = div["index"] if div and div["unit"] == "char" else None
                cls = " class='flip'" if d.kind == "verdict_flip" else ""
                verdict = {True: "right", False: "wrong"}
                parts.append(
                    f"<tr{cls} data-id='{esc(d.id)}'><td>{esc(d.id)}</td>"
                    f"<td>{esc(KIND_TEXT[d.kind])}</td>"
                    f"<td class='text'>{_mark(d.a.response or d.a.error, idx)}</td>"
                    f"<td class='text'>{_mark(d.b.response or d.b.error, idx)}</td>"
                    f"<td>{verdict[d.a.correct]} ({esc(str(d.a.extracted))})</td>"
                    f"<td>{verdict[d.b.correct]} ({esc(str(d.b.extracted))})</td></tr>"
                )
            parts.append("</table>")
            if len(bc.disagreements) > max_samples:
                parts.append(f"<p>{len(bc.disagreements) - max_samples} more in the JSON.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render(cmp: Comparison, fmt: str) -> str:
    """``fmt`` is one of :data:`FORMATS`."""
    renderers: dict[str, Any] = {"md": render_md, "json": render_json, "html": render_html}
    return renderers[fmt](cmp)
