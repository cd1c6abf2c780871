"""report.html: one self-contained file — inline CSS, an inline SVG bar chart of cost and tokens
per stage, no scripts, no external assets — so it can be mailed or attached to a ticket.

Every element is closed and every text escaped, so the page is also well-formed XML: tools can
parse it as XHTML, and a diff line such as ``if (a < b)`` can never become markup."""

from __future__ import annotations

import re
from html import escape as _html_escape

from harness.report.model import BatchReport, RunReport, StageMoney, plural, usd
from harness.report.sections import (
    Cell,
    Link,
    Section,
    batch_sections,
    run_sections,
    status_text,
    title,
)

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;
border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .6em;border:1px solid #ddd;
text-align:left;vertical-align:top}th{background:#f5f5f5}td.num{text-align:right;
font-variant-numeric:tabular-nums}
.status{font-weight:bold;padding:.1em .5em;border-radius:.3em;background:#eee}
.resolved{background:#d9f2d9}.halted,.error,.needs_human,.token_cap_exceeded,
.cost_cap_exceeded,.interrupted{background:#f8d7d7}.running{background:#fff2c6}
pre.diff{background:#f8f8f8;border:1px solid #ddd;padding:.8em;overflow-x:auto;font-size:12px}
.add{color:#116611}.del{color:#aa1111}.hunk{color:#555;font-weight:bold}
svg text{font:12px system-ui,sans-serif}
.empty{color:#666;font-style:italic}
"""
# Characters XML forbids (a diff or a test log may carry ANSI escapes): shown as \xNN instead.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
BLUE, RED = "#4a7fc1", "#d9534f"
BAR_MAX = 360  # px of the longest bar
ROW_H = 26


def run_html(report: RunReport, base: str) -> str:
    body = [f"<h1>{escape(title(report))}</h1>",
            f'<p><span class="status {escape(report["status"])}">'
            f"{escape(status_text(report))}</span> run {escape(report['run_id'])}</p>"]
    for section in run_sections(report, base):
        body.append(_section(section))
        if section.title == "Where the money went, by stage":
            body.append(stage_chart(report["money"]["by_stage"]))
    body += ["<h2>Final diff</h2>", _diff(report["diff"])]
    return _page(f"Run report: {title(report)}", body)


def batch_html(report: BatchReport) -> str:
    body = [f"<h1>Batch report: {escape(report['dir'])}</h1>"]
    body += [_section(s) for s in batch_sections(report)]
    notes = [f"<li>{escape(r['ticket'])}: {escape(r['note'])}</li>" for r in report["rows"]
             if r["note"]]
    if notes:
        body += ["<h2>Runs that could not be read</h2>", "<ul>", *notes, "</ul>"]
    return _page(f"Batch report: {report['dir']}", body)


def stage_chart(stages: list[StageMoney]) -> str:
    """One bar per stage, as long as its cost, the failed attempts' share drawn over its end in
    red; the label gives cost, tokens and attempts."""
    top = max((s["cost_usd"] for s in stages), default=0.0)
    label_w, height = 90, ROW_H * len(stages) + 8
    width = label_w + BAR_MAX + 260
    parts = [f'<svg class="chart" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">',
             "<title>Cost and tokens per stage (red: failed attempts)</title>"]
    for i, s in enumerate(stages):
        y = 4 + i * ROW_H
        full = _length(s["cost_usd"], top)
        failed = _length(s["failure_usd"], top)
        parts += [
            f'<text x="0" y="{y + 15}">{escape(s["stage"])}</text>',
            # fill given as attributes too, for viewers that drop the page's <style>
            f'<rect class="bar" data-stage="{escape(s["stage"])}" x="{label_w}" y="{y}" '
            f'width="{full}" height="{ROW_H - 8}" fill="{BLUE}"/>',
            *([f'<rect class="failed" x="{label_w + full - failed}" y="{y}" width="{failed}" '
               f'height="{ROW_H - 8}" fill="{RED}"/>'] if failed else []),
            f'<text x="{label_w + full + 6}" y="{y + 15}">{escape(usd(s["cost_usd"]))} · '
            f"{s['tokens']:,} tokens · {plural(s['attempts'], 'attempt')}</text>"]
    parts.append("</svg>")
    return "\n".join(parts)


def escape(text: str) -> str:
    return _html_escape(_NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def _length(value: float, top: float) -> int:
    return round(BAR_MAX * value / top) if top > 0 else 0


def _page(heading: str, body: list[str]) -> str:
    return "\n".join(["<!DOCTYPE html>", '<html lang="en">', "<head>",
                      '<meta charset="utf-8"/>',
                      '<meta name="viewport" content="width=device-width, initial-scale=1"/>',
                      f"<title>{escape(heading)}</title>", f"<style>{CSS}</style>", "</head>",
                      "<body>", *body, "</body>", "</html>", ""])


def _section(s: Section) -> str:
    out = [f"<h2>{escape(s.title)}</h2>"]
    if s.columns and s.rows:
        out.append("<table>")
        if any(s.columns):  # a key/value table has no header row
            out.append("<tr>" + "".join(f"<th>{escape(c)}</th>" for c in s.columns) + "</tr>")
        for row in s.rows:
            out.append("<tr>" + "".join(_td(c, i in s.right) for i, c in enumerate(row))
                       + "</tr>")
        out.append("</table>")
    elif s.columns and s.empty:
        out.append(f'<p class="empty">{escape(s.empty)}</p>')
    if s.lines:
        out.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in s.lines) + "</ul>")
    return "\n".join(out)


def _td(cell: Cell, numeric: bool) -> str:
    attr = ' class="num"' if numeric else ""
    if isinstance(cell, Link):
        return f'<td{attr}><a href="{escape(cell.href)}">{escape(cell.text)}</a></td>'
    return f"<td{attr}>{escape(cell)}</td>"


def _diff(diff: str | None) -> str:
    if diff is None:
        return '<p class="empty">There is no final.diff (yet).</p>'
    if not diff.strip():
        return '<p class="empty">The run changed nothing.</p>'
    return '<pre class="diff">' + "\n".join(_diff_line(line) for line in
                                            diff.rstrip("\n").split("\n")) + "</pre>"


def _diff_line(line: str) -> str:
    kind = ("add" if line.startswith("+") and not line.startswith("+++") else
            "del" if line.startswith("-") and not line.startswith("---") else
            "hunk" if line.startswith("@@") else "")
    text = escape(line)
    return f'<span class="{kind}">{text}</span>' if kind else text
