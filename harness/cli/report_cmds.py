"""``harness report``: a run's or a batch's report in the terminal, written as report.md and a
self-contained report.html (docs/reports.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.cli.render import console as make_console
from harness.eval.run import is_eval, read_eval
from harness.eval.run import render as render_eval
from harness.report.make import Target, Written, make_report, resolve
from harness.report.model import BatchReport, RunReport, plural
from harness.report.sections import (
    Section,
    batch_sections,
    run_sections,
    status_text,
    text_of,
    title,
)

DIFF_LINES = 40  # the terminal shows the head of the diff; the files have all of it
_STATUS_STYLE = {"resolved": "bold green", "running": "bold yellow"}


@click.command()
@click.argument("run_or_batch")
@click.option("-o", "--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              default=None, help="Write report.md and report.html here (default: the run or "
                                 "batch directory).")
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs"), show_default=True, help="Where to look up a run id.")
@click.option("--json", "as_json", is_flag=True, help="Print the report's data as JSON.")
def report(run_or_batch: str, out_dir: Path | None, runs_dir: Path, as_json: bool) -> None:
    """Report on RUN_OR_BATCH: a run directory, a run id, or a batch directory.

    Shows the timeline of attempts, where the money went against the pre-run estimate, the test
    results, the Debugger's routing and the final diff. Exit status: 0, or 2 when there is
    nothing readable to report on. An eval directory (harness eval) gets its table, and each
    config's batch report."""
    if is_eval(Path(run_or_batch)):
        show_eval(Path(run_or_batch), out_dir, as_json)
        return
    written = make_report(resolve(run_or_batch, runs_dir), out_dir)
    if as_json:
        click.echo(json.dumps(written.data, indent=2))
        return
    out = make_console()
    if written.data["kind"] == "run":
        show_run(out, written.data)
    else:
        show_batch(out, written.data)
    _show_written(out, written)


def show_eval(path: Path, out_dir: Path | None, as_json: bool) -> None:
    """The eval's table, then each config's directory reported as the batch it is."""
    result = read_eval(path)
    if as_json:
        click.echo(json.dumps({"kind": "eval", "configs": [s.as_dict() for s in
                                                           result.summaries],
                               "comparisons": [c.as_dict() for c in result.comparisons]},
                              indent=2))
        return
    out = make_console()
    out.print(render_eval(result, width=out.width), markup=False, highlight=False)
    for label in result.rows:
        written = make_report(Target("batch", path / label),
                              out_dir / label if out_dir else None)
        _show_written(out, written)


def show_run(out: Console, report: RunReport) -> None:
    style = _STATUS_STYLE.get(report["status"], "bold red")
    out.print(Text(title(report), style="bold"))
    out.print(Text(status_text(report), style=style))
    # In the terminal the run's files are where the run is.
    for section in run_sections(report, report["run_dir"]):
        _show(out, section)
    _show_diff(out, report["diff"])


def show_batch(out: Console, report: BatchReport) -> None:
    out.print(Text(f"Batch {report['dir']}", style="bold"))
    for section in batch_sections(report):
        _show(out, section)
    for row in report["rows"]:
        if row["note"]:
            out.print(Text(f"{row['ticket']}: {row['note']}", style="yellow"))


def _show(out: Console, s: Section) -> None:
    out.print()
    out.print(Text(s.title, style="bold underline"))
    if s.columns and s.rows:
        table = Table(show_header=any(s.columns), header_style="bold")
        for i, column in enumerate(s.columns):
            table.add_column(column, justify="right" if i in s.right else "left")
        for row in s.rows:
            table.add_row(*(Text(text_of(cell)) for cell in row))
        out.print(table)
    elif s.columns and s.empty:
        out.print(Text(s.empty, style="dim"))
    for line in s.lines:
        out.print(Text(f"  {line}"))


def _show_diff(out: Console, diff: str | None) -> None:
    out.print()
    out.print(Text("Final diff", style="bold underline"))
    if not diff or not diff.strip():
        out.print(Text("no final.diff (yet)" if diff is None else "no changes", style="dim"))
        return
    lines = diff.rstrip("\n").split("\n")
    for line in lines[:DIFF_LINES]:
        style = ("green" if line.startswith("+") else "red" if line.startswith("-") else
                 "cyan" if line.startswith("@@") else "")
        out.print(Text(line, style=style), soft_wrap=True)
    if len(lines) > DIFF_LINES:
        out.print(Text(f"… {len(lines) - DIFF_LINES} more lines: the full diff is in report.md "
                       "and report.html", style="dim"))


def _show_written(out: Console, written: Written) -> None:
    out.print()
    for path in written.files:
        out.print(Text(f"wrote {path}"))
    if written.run_reports:
        out.print(Text(f"and each run's own report ({plural(len(written.run_reports), 'run')}), "
                       "linked from the batch's"))
