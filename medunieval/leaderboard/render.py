"""Render a (reference + runs) table as Markdown, LaTeX (booktabs), CSV or HTML."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable

from .reference import RefTable, Row, compute_marks

FORMATS: tuple[str, ...] = ("md", "latex", "csv", "html")
MARKER_SIGNS = {
    "profile": "†",
    "version": "‡",
    "partial": "*",
    "uncalibrated": "°",
    "calibrated": "ᵏ",
}
LEGEND = {
    "profile": "† scored with another profile than the table's",
    "version": "‡ another benchmark version than the table's",
    "partial": "* partial run (--limit or a subset): not comparable with the full benchmark",
    "uncalibrated": "° judged by a judge with no calibration for its template "
    "(medunieval judge calibrate)",
    "calibrated": "ᵏ judged by a calibrated judge (kappa in the run's summary.json)",
}


def _cell_text(row: Row, col: int, delta: bool, ci: bool) -> str:
    value = row.values[col]
    if value is None:
        return "-"
    text = f"{value:.1f}"
    cell = row.cells.get(col, {})
    if delta and "delta" in cell:
        text += f" ({cell['delta']:+.1f})"
    if ci and "ci" in cell:
        text += f" [{cell['ci'][0]:.1f}, {cell['ci'][1]:.1f}]"
    text += "".join(MARKER_SIGNS[m] for m in cell.get("markers", []))
    return text


def _cells(
    row: Row,
    marks: dict[int, str],
    n: int,
    delta: bool,
    ci: bool,
    escape: Callable[[str], str],
    best: str,
    second: str,
) -> list[str]:
    """A row's cell texts, escaped for the format, with the best / second-best wrappers."""
    out = []
    for c in range(n):
        text = escape(_cell_text(row, c, delta, ci))
        wrap = {"best": best, "second": second}.get(marks.get(c, ""), "{}")
        out.append(wrap.format(text))
    return out


def _legend(table: RefTable, delta: bool, ci: bool) -> list[str]:
    used = {
        m
        for g in table.row_groups
        for r in g.rows
        for c in r.cells.values()
        for m in c.get("markers", [])
    }
    lines = [f"Source: {table.source}. Marks: {table.marks}."]
    if delta:
        lines.append("(±x.x) = difference to the published value of the same model.")
    if ci:
        lines.append("[lo, hi] = 95% Wilson score interval from the run's correct / n.")
    lines += [LEGEND[m] for m in LEGEND if m in used]
    return lines


def _rows(table: RefTable) -> list[tuple[str, list[tuple[Row, dict[int, str]]]]]:
    out = []
    width = len(table.columns)
    for group in table.row_groups:
        marks = compute_marks(group, width)
        rows = [
            (row, {c: m for (r, c), m in marks.items() if r == i})
            for i, row in enumerate(group.rows)
        ]
        out.append((group.label, rows))
    return out


def render_md(table: RefTable, delta: bool = False, ci: bool = False) -> str:
    cols = table.columns
    lines = [f"**{table.title}**: {table.caption.split(':', 1)[-1].strip()}", ""]
    lines += ["| Group | Columns |", "|---|---|"]
    lines += [
        f"| {g.label} | {', '.join(c.label for c in g.columns)} |" for g in table.column_groups
    ]
    lines += ["", "| Models | " + " | ".join(c.label for c in cols) + " |"]
    lines.append("|---|" + "---|" * len(cols))
    for label, rows in _rows(table):
        lines.append(f"| ***{label}*** |" + " |" * len(cols))
        for row, marks in rows:
            cells = _cells(row, marks, len(cols), delta, ci, str, "**{}**", "<u>{}</u>")
            lines.append(f"| {row.model} | " + " | ".join(cells) + " |")
    lines += [""] + _legend(table, delta, ci)
    return "\n".join(lines) + "\n"


def _tex(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
        ("<", r"$<$"),
        (">", r"$>$"),
        ("±", r"$\pm$"),
        ("†", r"$^\dagger$"),
        ("‡", r"$^\ddagger$"),
        ("°", r"$^\circ$"),
        ("ᵏ", r"$^\kappa$"),
    ):
        text = text.replace(a, b)
    return text


def render_latex(table: RefTable, delta: bool = False, ci: bool = False) -> str:
    cols = table.columns
    n = len(cols)
    out = [
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{"
        + _tex(table.caption.replace("**", "").replace("<u>", "").replace("</u>", ""))
        + "}",
        r"\begin{tabular}{l" + "c" * n + "}",
        r"\toprule",
    ]
    spans, rules, start = [""], [], 2
    for g in table.column_groups:
        k = len(g.columns)
        spans.append(rf"\multicolumn{{{k}}}{{c}}{{{_tex(g.label)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + k - 1}}}")
        start += k
    out.append(" & ".join(spans) + r" \\")
    out.append(" ".join(rules))
    out.append("Models & " + " & ".join(_tex(c.label) for c in cols) + r" \\")
    out.append(r"\midrule")
    for gi, (label, rows) in enumerate(_rows(table)):
        if gi:
            out.append(r"\midrule")
        out.append(rf"\multicolumn{{{n + 1}}}{{l}}{{\textit{{{_tex(label)}}}}} \\")
        for row, marks in rows:
            cells = _cells(row, marks, n, delta, ci, _tex, r"\textbf{{{}}}", r"\underline{{{}}}")
            out.append(_tex(row.model) + " & " + " & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    out += ["% " + line for line in _legend(table, delta, ci)]
    return "\n".join(out) + "\n"


def render_csv(table: RefTable, delta: bool = False, ci: bool = False) -> str:
    """One line per model: row group, model, then one value per column (percent, blank when
    not reported); with ``delta`` / ``ci`` extra columns follow each value."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    header = ["row_group", "model"]
    for c in table.columns:
        header.append(c.label)
        if delta:
            header.append(f"{c.label} delta")
        if ci:
            header += [f"{c.label} ci_low", f"{c.label} ci_high"]
    header.append("marks")
    writer.writerow(header)
    for label, rows in _rows(table):
        for row, marks in rows:
            line: list[str] = [label, row.model]
            for c in range(len(table.columns)):
                value = row.values[c]
                cell = row.cells.get(c, {})
                line.append("" if value is None else f"{value:.1f}")
                if delta:
                    line.append("" if "delta" not in cell else f"{cell['delta']:+.1f}")
                if ci:
                    lo_hi = cell.get("ci")
                    line += ["", ""] if not lo_hi else [f"{lo_hi[0]:.1f}", f"{lo_hi[1]:.1f}"]
            line.append(";".join(f"{table.columns[c].label}={m}" for c, m in sorted(marks.items())))
            writer.writerow(line)
    return buf.getvalue()


def render_html(table: RefTable, delta: bool = False, ci: bool = False) -> str:
    """A standalone HTML fragment (a ``<table>`` with column-group headers and row groups)."""
    esc = html.escape
    n = len(table.columns)
    out = [
        f'<table class="leaderboard" id="{esc(table.id)}">',
        f"<caption>{esc(table.caption.replace('**', '').replace('<u>', '').replace('</u>', ''))}"
        "</caption>",
        "<thead>",
        '<tr><th rowspan="2">Models</th>',
    ]
    out += [f'<th colspan="{len(g.columns)}">{esc(g.label)}</th>' for g in table.column_groups]
    out.append("</tr><tr>" + "".join(f"<th>{esc(c.label)}</th>" for c in table.columns) + "</tr>")
    out.append("</thead>")
    for label, rows in _rows(table):
        out.append(f'<tbody><tr class="group"><th colspan="{n + 1}"><i>{esc(label)}</i></th></tr>')
        for row, marks in rows:
            cells = [
                f"<td>{t}</td>"
                for t in _cells(row, marks, n, delta, ci, esc, "<b>{}</b>", "<u>{}</u>")
            ]
            cls = ' class="run"' if row.run else ""
            out.append(f"<tr{cls}><th>{esc(row.model)}</th>{''.join(cells)}</tr>")
        out.append("</tbody>")
    out.append("</table>")
    out += [f"<p class='legend'>{esc(line)}</p>" for line in _legend(table, delta, ci)]
    return "\n".join(out) + "\n"


RENDERERS: dict[str, Callable[..., str]] = {
    "md": render_md,
    "latex": render_latex,
    "csv": render_csv,
    "html": render_html,
}


def render(table: RefTable, fmt: str = "md", delta: bool = False, ci: bool = False) -> str:
    """Render ``table`` in ``fmt`` (one of ``FORMATS``)."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return RENDERERS[fmt](table, delta=delta, ci=ci)
