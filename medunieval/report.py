"""``medunieval report``: one self-contained HTML page for a run (no network needed to view).

Summary of both profiles against the paper's numbers, sub-score breakdowns and a browsable,
filterable table of per-sample records (errors, compat/strict disagreements, wrong answers).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .leaderboard.reference import load_table, reference_value, table_ids
from .rundir import DamagedFile, RunDir
from .types import Record

MAX_TEXT = 4000  # characters of prompt / response kept per record in the page


def paper_values(preset: str | None) -> dict[str, float]:
    """``{benchmark: published percent}`` for ``preset`` from the reference tables."""
    out: dict[str, float] = {}
    if not preset:
        return out
    for tid in table_ids():
        table = load_table(tid, include_later=True)
        for i, col in enumerate(table.columns):
            value = reference_value(table, preset, i)
            if value is not None:
                out.setdefault(col.benchmark, value)
    return out


def _thumbnail(source: str, size: int = 96) -> str | None:
    path = Path(source)
    if not path.is_file():
        return None
    try:
        from PIL import Image

        with Image.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((size, size))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=70)
    except Exception:  # a damaged or oversized image (DecompressionBombError) gets no thumbnail
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"… [{len(text) - MAX_TEXT} more characters]"


def record_row(rec: Record, thumbs: bool) -> dict[str, Any]:
    """The JSON a page row is rendered from."""
    strict, compat = rec.scores.get("strict", {}), rec.scores.get("compat", {})
    thumb = None
    if thumbs and rec.media:
        thumb = _thumbnail(rec.media[0].get("source", ""))
    return {
        "benchmark": rec.benchmark,
        "id": rec.sample_id,
        "prompt": _clip(rec.prompt),
        "response": _clip(rec.response.text if rec.response else None),
        "answer": rec.answer,
        "strict_extracted": strict.get("extracted"),
        "compat_extracted": compat.get("extracted"),
        "strict": bool(strict.get("correct")),
        "compat": bool(compat.get("correct")),
        "error": rec.error_kind(),
        "thumb": thumb,
    }


def build_report(run_path: Path, max_thumbnails: int = 500) -> str:
    """The HTML page for the run at ``run_path``."""
    rd = RunDir(run_path)
    try:
        summary = rd.read_run_summary()
    except DamagedFile as exc:
        raise ConfigError(f"{exc}; `medunieval rescore {run_path}` rebuilds it") from None
    if summary is None:
        raise ConfigError(f"{run_path}: not a run directory (no summary.json)")
    manifest = rd.read_manifest(on_damage="warn") or {}
    preset = (manifest.get("model") or {}).get("name")
    paper = paper_values(preset)
    rows: list[dict[str, Any]] = []
    for name in rd.benchmarks():
        for rec in rd.read_records(name):
            rows.append(record_row(rec, thumbs=len(rows) < max_thumbnails))
    benches = summary.get("benchmarks") or {}
    return _page(
        summary.get("run_id") or run_path.name, summary.get("model"), manifest, benches, paper, rows
    )


_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(data: Any) -> str:
    """JSON to embed in a ``<script>`` element: ``<``, ``>``, ``&``, U+2028 and U+2029 are
    written as ``\\u`` escapes, so no string can close the element, open a comment
    (``<!--``) or end a line inside it; ``JSON.parse`` restores every character."""
    return json.dumps(data, ensure_ascii=False).translate(_SCRIPT_UNSAFE)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _summary_table(benches: dict[str, Any], paper: dict[str, float]) -> str:
    esc = html.escape
    out = [
        "<table id='summary'><thead><tr><th>Benchmark</th><th>n</th><th>errors</th>"
        "<th>strict</th><th>compat</th><th>parse rate (strict)</th><th>paper</th>"
        "<th>compat vs paper</th></tr></thead><tbody>"
    ]
    for name, s in benches.items():
        prof = s.get("profiles") or {}
        st, co = prof.get("strict") or {}, prof.get("compat") or {}
        ref = paper.get(name)
        compat_pct = None if co.get("score") is None else 100 * co["score"]
        bar = ""
        if compat_pct is not None:
            bar = (
                f"<div class='bar'><div class='fill' style='width:{compat_pct:.1f}%'></div>"
                + (
                    f"<div class='ref' style='left:{ref:.1f}%' title='paper {ref:.1f}'></div>"
                    if ref is not None
                    else ""
                )
                + "</div>"
            )
        delta = "" if ref is None or compat_pct is None else f" ({compat_pct - ref:+.1f})"
        out.append(
            f"<tr data-bench='{esc(name)}'><td>{esc(name)}</td><td>{s.get('n', '-')}</td>"
            f"<td>{s.get('errors', 0)}</td><td>{_pct(st.get('score'))}</td>"
            f"<td>{_pct(co.get('score'))}</td><td>{_pct(st.get('parse_rate'))}</td>"
            f"<td>{'-' if ref is None else f'{ref:.1f}'}</td><td>{bar}{delta}</td></tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _subscores(benches: dict[str, Any]) -> str:
    esc = html.escape
    out = []
    for name, s in benches.items():
        prof = s.get("profiles") or {}
        parts = []
        for field_name, groups in ((prof.get("strict") or {}).get("subscores") or {}).items():
            compat_groups = ((prof.get("compat") or {}).get("subscores") or {}).get(field_name, {})
            lines = "".join(
                f"<tr><td>{esc(k)}</td><td>{v['n']}</td><td>{_pct(v['score'])}</td>"
                f"<td>{_pct((compat_groups.get(k) or {}).get('score'))}</td></tr>"
                for k, v in groups.items()
            )
            parts.append(
                f"<h4>{esc(field_name)}</h4><table class='sub'><tr><th>value</th>"
                f"<th>n</th><th>strict</th><th>compat</th></tr>{lines}</table>"
            )
        if parts:
            out.append(f"<details><summary>{esc(name)}</summary>{''.join(parts)}</details>")
    return "\n".join(out) or "<p>No sub-scores.</p>"


def _judge_calibration(benches: dict[str, Any]) -> str:
    """One line per judged benchmark: the judge's calibration, or "uncalibrated"."""
    from .calibration import describe

    items = [
        f"<li>{html.escape(name)}: judge {html.escape(', '.join(j.get('judges') or []))} · "
        f"<span class='calibration'>{html.escape(describe(j.get('calibration')))}</span></li>"
        for name, s in benches.items()
        if (j := s.get("judge") or {}).get("judged")
    ]
    return f"<ul id='judge-calibration'>{''.join(items)}</ul>" if items else ""


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;
vertical-align:top;font-size:13px}th{background:#f3f3f3}
.bar{position:relative;display:inline-block;width:160px;height:10px;background:#eee;
margin-right:6px}.fill{height:10px;background:#4a7}.ref{position:absolute;top:-3px;width:2px;
height:16px;background:#c33}
#records td.text{max-width:420px;white-space:pre-wrap;word-break:break-word}
.ok{color:#185}.bad{color:#b22}.err{background:#fee}
button.active{font-weight:bold}
"""

JS = """
const rows = JSON.parse(document.getElementById('data').textContent);
const tbody = document.querySelector('#records tbody');
const count = document.getElementById('count');
const filters = {
  all: r => true,
  errors: r => r.error !== null,
  disagree: r => r.error === null && r.strict !== r.compat,
  wrong: r => !r.strict,
};
function cell(text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text === null || text === undefined ? '' : String(text);
  return td;
}
function render(name) {
  tbody.replaceChildren();
  const shown = rows.filter(filters[name]);
  for (const r of shown) {
    const tr = document.createElement('tr');
    if (r.error) tr.className = 'err';
    tr.append(cell(r.benchmark), cell(r.id));
    const img = document.createElement('td');
    if (r.thumb) { const i = new Image(); i.src = r.thumb; i.alt = r.id; img.append(i); }
    tr.append(img, cell(r.prompt, 'text'), cell(r.response, 'text'), cell(r.answer),
      cell(r.strict_extracted), cell(r.compat_extracted),
      cell(r.strict ? 'right' : 'wrong', r.strict ? 'ok' : 'bad'),
      cell(r.compat ? 'right' : 'wrong', r.compat ? 'ok' : 'bad'), cell(r.error));
    tbody.append(tr);
  }
  count.textContent = shown.length + ' of ' + rows.length + ' records';
  for (const b of document.querySelectorAll('#filters button'))
    b.classList.toggle('active', b.dataset.filter === name);
}
for (const b of document.querySelectorAll('#filters button'))
  b.addEventListener('click', () => render(b.dataset.filter));
render('all');
"""


def _page(
    run_id: str,
    model: str | None,
    manifest: dict[str, Any],
    benches: dict[str, Any],
    paper: dict[str, float],
    rows: list[dict[str, Any]],
) -> str:
    esc = html.escape
    data = script_json(rows)
    version = manifest.get("medunieval_version", "?")
    n_err = sum(r["error"] is not None for r in rows)
    n_dis = sum(r["error"] is None and r["strict"] != r["compat"] for r in rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>medunieval report: {esc(run_id)}</title><style>{CSS}</style></head><body>
<h1>{esc(model or run_id)}</h1>
<p>Run <code>{esc(run_id)}</code> · medunieval {esc(str(version))} · scores in percent ·
red tick = the paper's published value for this model (compat profile).</p>
<h2>Summary</h2>
{_summary_table(benches, paper)}
{_judge_calibration(benches)}
<h2>Sub-scores</h2>
{_subscores(benches)}
<h2>Records</h2>
<div id="filters">
<button data-filter="all">All ({len(rows)})</button>
<button data-filter="errors">Errors ({n_err})</button>
<button data-filter="disagree">compat ≠ strict ({n_dis})</button>
<button data-filter="wrong">Wrong (strict)</button>
</div>
<p id="count"></p>
<table id="records"><thead><tr><th>benchmark</th><th>id</th><th>image</th><th>prompt</th>
<th>response</th><th>gold</th><th>strict answer</th><th>compat answer</th><th>strict</th>
<th>compat</th><th>error</th></tr></thead><tbody></tbody></table>
<script type="application/json" id="data">{data}</script>
<script>{JS}</script>
</body></html>
"""
