"""``harness report``: what a run (or a batch of runs) did and where its money went, read from
run directories alone (docs/reports.md).

The data is built once (``run``, ``batch``) as JSON-shaped dicts; ``--json`` prints it, and
report.md / report.html are rendered from it (``markdown``, ``html``) through the same sections
the terminal shows (``sections``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.report.batch import batch_report, is_batch
from harness.report.html import batch_html, run_html
from harness.report.markdown import batch_markdown, run_markdown
from harness.report.model import (
    REPORT_HTML,
    REPORT_MD,
    BatchReport,
    ReportError,
    RunReport,
    link_base,
)
from harness.report.run import run_report
from harness.runs.record import RUN_JSON
from harness.vendors.common import redact


@dataclass(frozen=True)
class Target:
    kind: Literal["run", "batch"]
    path: Path


@dataclass
class Written:
    """A report's data and the files written for it."""

    data: RunReport | BatchReport
    files: list[Path]  # this report's report.md and report.html
    run_reports: list[Path] = field(default_factory=list)  # a batch's per-run report.html


def resolve(target: str, runs_dir: Path) -> Target:
    """A run directory, a run id under ``runs_dir``, or a batch directory (with a results.jsonl,
    or holding run directories)."""
    path = Path(target)
    if path.is_file() and path.name == RUN_JSON:
        path = path.parent
    if not path.is_dir() and (runs_dir / target).is_dir():
        path = runs_dir / target
    if not path.is_dir():
        raise ReportError(f"{target}: no such run or batch directory, and no run `{target}` "
                          f"under {runs_dir}")
    # run.json decides even when unreadable: its run is reported as corrupt, never as a batch.
    if (path / RUN_JSON).exists():
        return Target("run", path)
    if is_batch(path):
        return Target("batch", path)
    raise ReportError(f"{path}: neither a run directory (no {RUN_JSON}) nor a batch "
                      f"(no results.jsonl, no */{RUN_JSON})")


def make_report(target: Target, out_dir: Path | None = None) -> Written:
    """Build the report and write report.md and report.html into ``out_dir`` (default: the run
    or batch directory itself). A batch also gets each run's own report, linked from its row."""
    out = out_dir or target.path
    if target.kind == "run":
        data = run_report(target.path)
        return Written(data, write_run(data, out))
    batch, runs = batch_report(target.path, out)
    written = [write_run(run, run_out)[1] for run, run_out in runs]
    return Written(batch, _write(out, batch_markdown(batch), batch_html(batch)), written)


def write_run(report: RunReport, out_dir: Path) -> list[Path]:
    base = link_base(Path(report["run_dir"]), out_dir)
    return _write(out_dir, run_markdown(report, base), run_html(report, base))


def _write(out_dir: Path, markdown: str, html: str) -> list[Path]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        md, page = out_dir / REPORT_MD, out_dir / REPORT_HTML
        md.write_text(redact(markdown), encoding="utf-8")
        page.write_text(redact(html), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{out_dir}: cannot write the report: {exc.strerror}") from None
    return [md, page]
