"""A batch's report data: one row per ticket, from the batch's ``results.jsonl`` (written by
``harness batch``: ``ticket``, ``run_dir`` relative to the batch dir, ``status``, ``tokens``,
``cost_usd``, ``duration_s``) or, without one, from every ``*/run.json`` under the directory.
Each row's run is reported on its own too, and the row links to that report."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from harness.report.model import (
    REPORT_HTML,
    BatchReport,
    BatchRow,
    BatchTotals,
    ReportError,
    RunReport,
    plural,
    stage_order,
)
from harness.report.run import run_report
from harness.runs.history import read_run
from harness.runs.record import RUN_JSON, RUNNING

RESULTS = "results.jsonl"


def is_batch(path: Path) -> bool:
    return (path / RESULTS).is_file() or any(path.glob(f"*/{RUN_JSON}"))


RunsToWrite = list[tuple[RunReport, Path]]


def batch_report(batch_dir: Path, out_dir: Path) -> tuple[BatchReport, RunsToWrite]:
    """The batch's data, and each readable run's report with the directory it is written to."""
    source, entries = _entries(batch_dir)
    rows, runs = [], []
    for entry in entries:
        run_dir = batch_dir / str(entry["run_dir"]) if entry.get("run_dir") else None
        report, note = _run(run_dir)
        report_dir = run_report_dir(run_dir, batch_dir, out_dir) if report and run_dir else None
        if report and report_dir:
            runs.append((report, report_dir))
        rows.append(_row(entry, run_dir, report, note, _link(out_dir, report_dir)))
    return BatchReport(kind="batch", dir=str(batch_dir), source=source, rows=rows,
                       totals=_totals(rows)), runs


def _entries(batch_dir: Path) -> tuple[str, list[dict[str, Any]]]:
    scanned = sorted(p.parent for p in batch_dir.glob(f"*/{RUN_JSON}"))
    if not (batch_dir / RESULTS).is_file():
        return (f"a scan of */{RUN_JSON} (no {RESULTS})",
                [{"run_dir": p.name} for p in scanned])
    entries, skipped = _results(batch_dir / RESULTS)
    listed = {(batch_dir / str(e["run_dir"])).resolve() for e in entries if e.get("run_dir")}
    # A batch still going has a run directory, but no row yet, for each ticket it is running.
    # (A run a later `--redo` superseded is not running, and stays out: its ticket has a row.)
    going = [{"run_dir": p.name} for p in scanned
             if p.resolve() not in listed and (read_run(p) or {}).get("status") == RUNNING]
    source = RESULTS
    if going:
        source += f", and {plural(len(going), 'run')} still going"
    if skipped:
        source += f" ({plural(skipped, 'unreadable line')} skipped)"
    return source, entries + going


def run_report_dir(run_dir: Path, batch_dir: Path, out_dir: Path) -> Path:
    """Where a batch writes a run's own report: the same place relative to the output dir as
    the run is to the batch dir, so without -o it is the run's own directory."""
    try:
        rel = run_dir.resolve().relative_to(batch_dir.resolve())
    except ValueError:
        rel = Path(run_dir.name)
    return out_dir / rel


def _results(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The last row per ticket, as ``harness batch`` reads it (a --redo appends a newer row; a
    torn last line from a killed batch is skipped), and how many lines were skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read it ({exc})") from None
    rows: dict[str, dict[str, Any]] = {}
    skipped = 0
    for number, line in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            skipped += bool(line.strip())
            continue
        if not isinstance(row, dict):
            skipped += 1
            continue
        rows[str(row.get("ticket", f"line {number + 1}"))] = row
    return list(rows.values()), skipped


def _run(run_dir: Path | None) -> tuple[RunReport | None, str | None]:
    """A run that cannot be read is a row with a note, not a failed batch report."""
    if run_dir is None:
        return None, "no run directory"
    try:
        return run_report(run_dir), None
    except ReportError as exc:
        return None, str(exc)


def _row(entry: dict[str, Any], run_dir: Path | None, report: RunReport | None,
         note: str | None, link: str | None) -> BatchRow:
    recorded = entry.get("attempts")
    per_stage = ({str(k): v for k, v in recorded.items() if isinstance(v, int)}
                 if isinstance(recorded, dict) else {})
    if report:
        counts = Counter(a["stage"] for a in report["attempts"])
        per_stage = {s: counts[s] for s in stage_order(list(counts))}
    # The batch's own figures come first (it wrote them when the run ended); the run's
    # run.json fills in what a row lacks, and is the only source in a scanned directory.
    run_time = 0.0
    if report:
        run_time = report["wall_s"] if report["wall_s"] is not None else report["duration_s"]
    return BatchRow(
        ticket=str(entry.get("ticket") or (report["ticket_id"] if report else "?")),
        status=str(entry.get("status") or (report["status"] if report else "unknown")),
        run_dir=str(run_dir) if run_dir else None, attempts=per_stage,
        tokens=int(_number(entry, "tokens", report["tokens"] if report else 0)),
        cost_usd=_number(entry, "cost_usd", report["cost_usd"] if report else 0.0),
        duration_s=_number(entry, "duration_s", run_time),
        report=link, note=note)


def _number(entry: dict[str, Any], key: str, fallback: float) -> float:
    value = entry.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return float(fallback)


def _link(out_dir: Path, report_dir: Path | None) -> str | None:
    if report_dir is None:
        return None
    return Path(os.path.relpath(report_dir / REPORT_HTML, out_dir)).as_posix()


def _totals(rows: list[BatchRow]) -> BatchTotals:
    resolved = sum(r["status"] == "resolved" for r in rows)
    return BatchTotals(
        runs=len(rows), resolved=resolved, running=sum(r["status"] == "running" for r in rows),
        resolve_rate=round(resolved / len(rows), 4) if rows else 0.0,
        tokens=sum(r["tokens"] for r in rows), cost_usd=round(sum(r["cost_usd"] for r in rows), 6),
        duration_s=round(sum(r["duration_s"] for r in rows), 3))
