"""report.md: the report's sections as Markdown tables, and the final diff in full."""

from __future__ import annotations

import re

from harness.report.model import BatchReport, RunReport
from harness.report.sections import (
    Cell,
    Link,
    Section,
    batch_sections,
    run_sections,
    status_text,
    title,
)


def run_markdown(report: RunReport, base: str) -> str:
    parts = [f"# Run report: {_inline(title(report))}", "",
             f"**{_inline(status_text(report))}** · run `{report['run_id']}`", ""]
    for section in run_sections(report, base):
        parts += _section(section)
    parts += ["## Final diff", "", *_diff(report["diff"])]
    return "\n".join(parts) + "\n"


def batch_markdown(report: BatchReport) -> str:
    parts = [f"# Batch report: {_inline(report['dir'])}", ""]
    for section in batch_sections(report):
        parts += _section(section)
    notes = [f"- {_inline(r['ticket'])}: {_inline(r['note'])}" for r in report["rows"]
             if r["note"]]
    if notes:
        parts += ["## Runs that could not be read", "", *notes, ""]
    return "\n".join(parts) + "\n"


def _section(s: Section) -> list[str]:
    out = [f"## {s.title}", ""]
    if s.columns and s.rows:
        out.append("| " + " | ".join(_cell(c) for c in s.columns) + " |")
        out.append("|" + "|".join("---:" if i in s.right else "---"
                                  for i in range(len(s.columns))) + "|")
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in s.rows]
        out.append("")
    elif s.columns and s.empty:
        out += [s.empty, ""]
    if s.lines:
        out += [f"- {_inline(line)}" for line in s.lines]
        out.append("")
    return out


def _cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        return f"[{_cell(cell.text)}](<{cell.href}>)"
    # A pipe would end the cell and a newline the row.
    return _inline(cell).replace("|", "\\|")


def _inline(text: str) -> str:
    """One line of text that Markdown shows as written: no raw HTML, no line breaks."""
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")


def _diff(diff: str | None) -> list[str]:
    if diff is None:
        return ["There is no final.diff (yet).", ""]
    if not diff.strip():
        return ["The run changed nothing.", ""]
    # A fence longer than any backtick run in the diff, so the diff cannot close it.
    longest = max((len(m) for m in re.findall(r"`+", diff)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}diff", diff.rstrip("\n"), fence, ""]
