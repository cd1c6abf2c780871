"""A report as titled tables and lines of text, renderer-neutral: the terminal, Markdown and HTML
renderers each draw the same sections, so the three never disagree on a figure."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.report.model import (
    BatchReport,
    Money,
    RunReport,
    attempts_text,
    plural,
    rate,
    secs,
    short,
    usd,
)


@dataclass(frozen=True)
class Link:
    text: str
    href: str  # relative to the report's own location


Cell = str | Link


@dataclass(frozen=True)
class Section:
    title: str
    columns: tuple[str, ...] = ()
    rows: list[list[Cell]] = field(default_factory=list)
    right: frozenset[int] = frozenset()  # indexes of numeric (right-aligned) columns
    lines: list[str] = field(default_factory=list)  # prose after the table
    empty: str = ""  # said instead of an empty table


def text_of(cell: Cell) -> str:
    return cell.text if isinstance(cell, Link) else cell


def title(report: RunReport) -> str:
    return f"{report['ticket_id']}: {report['ticket_title']}".rstrip(": ")


def status_text(report: RunReport) -> str:
    if report["status"] != "running":
        return report["status"]
    # A running run.json with no live lease holder is a killed run not yet settled.
    return "running" if report["live"] else ("running (no live process: it will be marked "
                                             "interrupted by the next harness run)")


def run_sections(report: RunReport, base: str) -> list[Section]:
    """Every section of a run's report; ``base`` is the run dir relative to the report."""
    return [_header(report), _timeline(report, base), *_money(report["money"]),
            _estimate(report), *_estimate_paths(report), _tests(report, base),
            _routing(report), _rambling(report)]


def _header(r: RunReport) -> Section:
    rows: list[list[Cell]] = [
        ["status", status_text(r)], ["run", r["run_id"]],
        ["base", f"{r['base_ref'] or 'n/a'} at {short(r['base_commit'])}"],
        ["tokens", f"{r['tokens']:,}"], ["cost", usd(r["cost_usd"])],
        ["duration", f"{secs(r['wall_s'])} wall clock, {secs(r['duration_s'])} in attempts"]]
    if r["decomposition"]:
        d = r["decomposition"]
        rows.append(["plan", f"{plural(d.get('sub_tickets', 0), 'sub-ticket')}, chain depth "
                     f"{d.get('chain_depth')}, {plural(d.get('operations', 0), 'operation')}"])
    if r["target"]:
        t = r["target"]
        rows.append(["target tests", f"{', '.join(t.get('tests') or []) or 'none'} "
                     f"({t.get('why', '')})"])
    for name, value in (("stopped in", r["stopped_in"]), ("error", r["error"]),
                        ("detail", r["detail"])):
        if value:
            rows.append([name, str(value).strip().split("\n", 1)[0][:300]])
    return Section("Run", ("", ""), rows)


def _timeline(r: RunReport, base: str) -> Section:
    rows: list[list[Cell]] = []
    for n, a in enumerate(r["attempts"], 1):
        label: Cell = Link(a["label"], f"{base}/{a['diff']}") if a["diff"] else a["label"]
        started = "n/a" if a["started_s"] is None else f"+{secs(a['started_s'])}"
        rows.append([str(n), label, a["tier"], a["vendor"], a["model"], a["control"] or "none",
                     f"{a['tokens']:,}", usd(a["cost_usd"]), secs(a["duration_s"]), started,
                     _mark(a["ok"], a["outcome"]) + a["outcome"]])
    return Section("Timeline", ("#", "attempt", "tier", "vendor", "model", "control", "tokens",
                                "cost", "duration", "started", "outcome"),
                   rows, frozenset({0, 6, 7, 8, 9}), empty="No attempt has finished yet.")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _mark(ok: bool, outcome: str) -> str:
    # A routing is the Debugger doing its job, on money the failure path spent.
    return "✓ " if ok else "↪ " if outcome.startswith("routed:") else "✗ "


def _money(m: Money) -> list[Section]:
    by_stage: list[list[Cell]] = [
        [s["stage"], str(s["attempts"]), str(s["failed"]), f"{s['tokens']:,}", usd(s["cost_usd"]),
         usd(s["success_usd"]), usd(s["failure_usd"]), usd(s["estimate_expected_usd"]),
         usd(s["estimate_worst_usd"]), _share(s["cache_share"])] for s in m["by_stage"]]
    ok, bad = m["success"], m["failure"]
    sent = sum(s["input_tokens"] for s in m["by_stage"])
    read = sum(s["cache_read_tokens"] for s in m["by_stage"])
    by_stage.append(["total", str(ok["attempts"] + bad["attempts"]), str(bad["attempts"]),
                     f"{ok['tokens'] + bad['tokens']:,}",
                     usd(round(ok["cost_usd"] + bad["cost_usd"], 6)), usd(ok["cost_usd"]),
                     usd(bad["cost_usd"]), "", "", _share(read / sent if sent else None)])
    paths: list[list[Cell]] = [
        [g["stage"], str(g["attempts"]),
         ", ".join(f"{o} ×{n}" for o, n in g["outcomes"].items()), f"{g['tokens']:,}",
         usd(g["cost_usd"]), g["estimate_path"] or "n/a", usd(g["estimate_path_usd"])]
        for g in m["failure_by_stage"]]
    lines = [f"successful path: {plural(ok['attempts'], 'attempt')}, {ok['tokens']:,} tokens, "
             f"{usd(ok['cost_usd'])}",
             f"failure path: {plural(bad['attempts'], 'attempt')}, {bad['tokens']:,} tokens, "
             f"{usd(bad['cost_usd'])}"]
    return [Section("Where the money went, by stage",
                    ("stage", "attempts", "failed", "tokens", "cost", "successful", "failed cost",
                     "estimate: expected", "estimate: worst case", "input read from cache"),
                    by_stage, frozenset(range(1, 10))),
            Section("Where the money went, by path",
                    ("stage", "failed attempts", "outcomes", "tokens", "cost",
                     "cost model's failure path", "its worst-case cost"),
                    paths, frozenset({1, 3, 4, 6}), lines,
                    empty="No attempt failed: all the money went to the successful path.")]


def _estimate(r: RunReport) -> Section:
    e = r["estimate"]
    if e is None:
        return Section("Against the estimate", lines=[
            f"The pre-run estimate of `harness cost` is not available: {r['estimate_note']}."])
    ratio = f"{r['cost_usd'] / e['expected_usd']:.2f}×" if e["expected_usd"] else "n/a"
    lines = [f"estimated from {e['source']}",
             f"expected run: {usd(e['expected_usd'])} ({e['expected_tokens']:,} tokens)",
             f"worst case: {usd(e['worst_usd'])} ({e['worst_tokens']:,} tokens)",
             f"within caps: {e['within_caps']}",
             f"this run: {usd(r['cost_usd'])} ({r['tokens']:,} tokens), {ratio} the expected run",
             f"token figures: {e['expectations']}"]
    if r["estimate_note"]:
        lines.append(f"note: {r['estimate_note']}")
    return Section("Against the estimate", lines=lines)


def _estimate_paths(r: RunReport) -> list[Section]:
    if r["estimate"] is None:
        return []
    rows: list[list[Cell]] = [[name, usd(cost)] for name, cost in r["estimate"]["paths"].items()]
    return [Section("The estimate's failure paths", ("failure path", "marginal worst-case cost"),
                    rows, frozenset({1}))]


def _tests(r: RunReport, base: str) -> Section:
    rows: list[list[Cell]] = []
    for t in r["tests"]:
        out: Cell = Link(t["output"], f"{base}/{t['output']}") if t["output"] else "n/a"
        rows.append([t["label"], t["scope"], "passed" if t["passed"] else "failed",
                     ", ".join(t["failing"]) or "-", t["command"] or "n/a", t["ended"] or "n/a",
                     out])
    return Section("Tests", ("attempt", "scope", "result", "failing tests", "command", "ended",
                             "output"), rows, empty="No test run was recorded.")


def _routing(r: RunReport) -> Section:
    rows: list[list[Cell]] = [[x["failing"], x["owner"], x["root_cause"]] for x in r["routing"]]
    return Section("Debugger routing", ("failing stage", "routed to", "root cause"), rows,
                   empty="The Debugger made no routing decision.")


def _rambling(r: RunReport) -> Section:
    rows: list[list[Cell]] = [
        [str(e.get("label", e.get("stage", "?"))),
         "; ".join(f"{k}={v}" for k, v in e.items() if k not in ("label", "stage", "t"))]
        for e in r["rambling"]]
    return Section("Rambling flags", ("attempt", "flag"), rows,
                   empty="No rambling was flagged.")


def batch_sections(report: BatchReport) -> list[Section]:
    t = report["totals"]
    rows: list[list[Cell]] = []
    for row in report["rows"]:
        link: Cell = Link(row["report"], row["report"]) if row["report"] else "n/a"
        rows.append([row["ticket"], row["status"], attempts_text(row["attempts"]),
                     f"{row['tokens']:,}", usd(row["cost_usd"]), secs(row["duration_s"]), link])
    rows.append(["total", f"{t['resolved']} of {t['runs']} resolved", "", f"{t['tokens']:,}",
                 usd(t["cost_usd"]), secs(t["duration_s"]), ""])
    lines = [f"runs from {report['source']}",
             f"resolve rate: {rate(t['resolve_rate'])} ({t['resolved']} of {t['runs']})"
             + (f", {t['running']} still running" if t["running"] else ""),
             f"total: {t['tokens']:,} tokens, {usd(t['cost_usd'])}, {secs(t['duration_s'])}"]
    return [Section("Runs", ("ticket", "status", "attempts per stage", "tokens", "cost",
                             "duration", "report"), rows, frozenset({3, 4, 5}), lines,
                    empty="The batch has no runs.")]
