"""One run's report data, read from its run directory (docs/run-directory.md): run.json for the
attempts and totals, events.jsonl for tests, routing and rambling flags, tests/ for each test
run's command and ending, final.diff for the patch."""

from __future__ import annotations

import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.report.estimate import run_estimate
from harness.report.model import (
    FAILURE_PATH,
    SUCCESS,
    AttemptRow,
    Estimate,
    FailureGroup,
    Money,
    PathTotal,
    ReportError,
    Routing,
    RunReport,
    StageMoney,
    SuiteRun,
    read_json_object,
    stage_order,
)
from harness.runs import cache_share
from harness.runs.record import RUN_JSON
from harness.sandbox.lease import is_alive


def read_state(run_dir: Path) -> dict[str, Any]:
    state = read_json_object(run_dir / RUN_JSON)
    if not isinstance(state.get("status"), str) or not isinstance(state.get("attempts"), list):
        raise ReportError(f"{run_dir / RUN_JSON}: not a run record (no status or attempts)")
    return state


def run_report(run_dir: Path) -> RunReport:
    """Raises ``ReportError`` for a missing, corrupt or malformed run.json."""
    state = read_state(run_dir)
    try:
        return _build(run_dir, state, read_events(run_dir))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # run.json parsed but does not have the contract's shape: one line, no traceback
        raise ReportError(f"{run_dir / RUN_JSON}: not a run record as documented "
                          f"({type(exc).__name__}: {exc})") from None


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """events.jsonl, skipping a line that does not parse: a live run may be mid-write."""
    try:
        lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def _build(run_dir: Path, state: dict[str, Any], events: list[dict[str, Any]]) -> RunReport:
    ticket = state.get("ticket") or {}
    totals = state.get("totals") or {}
    started = _time(state.get("started_at"))
    attempts = _attempts(state["attempts"], events, started)
    estimate, note = run_estimate(state)
    return RunReport(
        kind="run", run_dir=str(run_dir), run_id=str(state.get("run_id") or run_dir.name),
        status=state["status"], live=is_alive(run_dir),
        ticket_id=str(ticket.get("id", "?")), ticket_title=str(ticket.get("title", "")),
        repo=state.get("repo"), base_ref=state.get("base_ref"),
        base_commit=state.get("base_commit"), started_at=state.get("started_at"),
        ended_at=state.get("ended_at"), wall_s=_wall(started, _time(state.get("ended_at"))),
        tokens=int(totals.get("tokens", sum(a["tokens"] for a in attempts))),
        cost_usd=float(totals.get("cost_usd", sum(a["cost_usd"] for a in attempts))),
        duration_s=float(totals.get("duration_s", sum(a["duration_s"] for a in attempts))),
        detail=state.get("detail"), stopped_in=state.get("stopped_in"),
        error=state.get("error"), decomposition=state.get("decomposition"),
        target=state.get("target"),
        attempts=attempts, estimate=estimate,
        money=money(attempts, estimate, cache_share.by_stage(state["attempts"])),
        estimate_note=note, tests=_tests(run_dir, events), routing=_routing(events),
        rambling=[{k: v for k, v in e.items() if k != "event"} for e in events
                  if e.get("event") == "rambling"],
        diff=_read_text(run_dir / "final.diff"))


def _attempts(raw: list[dict[str, Any]], events: list[dict[str, Any]],
              started: datetime | None) -> list[AttemptRow]:
    # Matched by label in order, not by label alone: a fresh Coder round after a Debugger
    # routing reuses its labels (coder/S1/a1 again).
    starts: dict[str, deque[datetime | None]] = defaultdict(deque)
    for e in events:
        if e.get("event") == "attempt_start":
            starts[str(e.get("label"))].append(_time(e.get("t")))
    rows = []
    for a in raw:
        queue = starts[a["label"]]
        at = queue.popleft() if queue else None
        rows.append(AttemptRow(
            label=a["label"], stage=a["stage"], attempt=int(a["attempt"]), tier=a["tier"],
            vendor=_served(a, "vendor"), model=_served(a, "model"), control=a.get("control"),
            tokens=int(a["tokens"]), cost_usd=float(a["cost_usd"]),
            duration_s=float(a["duration_s"]), turns=int(a.get("turns", 0)),
            outcome=a["outcome"], ok=a["outcome"] in SUCCESS,
            detail=(a.get("detail") or "").strip().split("\n", 1)[0],
            started_s=_wall(started, at), diff=a.get("diff")))
    return rows


def _served(attempt: dict[str, Any], key: str) -> str:
    """The attempt's vendor or model; ``anthropic → google (fallback, 3 turns)`` when the
    stage's fallback served some of its turns."""
    parts = attempt.get("served") or []
    if len(parts) < 2:  # one vendor served it all
        return str(attempt[key])
    return " → ".join(str(p[key]) + (f" (fallback, {p['turns']} turn{'s' * (p['turns'] != 1)})"
                                     if p.get("fallback") and key == "vendor" else "")
                      for p in parts)


def money(attempts: list[AttemptRow], estimate: Estimate | None,
          cache: dict[str, dict[str, Any]] | None = None) -> Money:
    """Spend by stage and by path (successful vs failed attempts), each beside its estimate;
    ``cache``: each stage's input by how it was billed (``cache_share.by_stage``)."""
    stages = stage_order([a["stage"] for a in attempts])
    failed = [a for a in attempts if not a["ok"]]
    return Money(
        by_stage=[_stage_money(s, [a for a in attempts if a["stage"] == s], estimate,
                               (cache or {}).get(s, {})) for s in stages],
        success=_path_total([a for a in attempts if a["ok"]]),
        failure=_path_total(failed),
        failure_by_stage=[_failure_group(s, [a for a in failed if a["stage"] == s], estimate)
                          for s in stages if any(a["stage"] == s for a in failed)])


def _stage_money(stage: str, rows: list[AttemptRow], estimate: Estimate | None,
                 cache: dict[str, Any]) -> StageMoney:
    planned = estimate["stages"].get(stage) if estimate else None
    return StageMoney(
        stage=stage, attempts=len(rows), failed=sum(not a["ok"] for a in rows),
        tokens=sum(a["tokens"] for a in rows), cost_usd=_usd(a["cost_usd"] for a in rows),
        success_usd=_usd(a["cost_usd"] for a in rows if a["ok"]),
        failure_usd=_usd(a["cost_usd"] for a in rows if not a["ok"]),
        estimate_expected_usd=planned["expected_usd"] if planned else None,
        estimate_worst_usd=planned["worst_usd"] if planned else None,
        input_tokens=sum(int(cache.get(k, 0)) for k in cache_share.KEYS),
        cache_read_tokens=int(cache.get("cache_read_tokens", 0)),
        cache_share=cache.get("cache_share"))


def _failure_group(stage: str, rows: list[AttemptRow],
                   estimate: Estimate | None) -> FailureGroup:
    path = FAILURE_PATH.get(stage)
    return FailureGroup(
        stage=stage, attempts=len(rows), outcomes=dict(Counter(a["outcome"] for a in rows)),
        tokens=sum(a["tokens"] for a in rows), cost_usd=_usd(a["cost_usd"] for a in rows),
        estimate_path=path,
        estimate_path_usd=estimate["paths"].get(path) if estimate and path else None)


def _path_total(rows: list[AttemptRow]) -> PathTotal:
    return PathTotal(attempts=len(rows), tokens=sum(a["tokens"] for a in rows),
                     cost_usd=_usd(a["cost_usd"] for a in rows))


def _usd(values: Iterable[float]) -> float:
    # run.json rounds each attempt and its totals to 6 places; so do we, so sums agree.
    return round(sum(values), 6)


def _tests(run_dir: Path, events: list[dict[str, Any]]) -> list[SuiteRun]:
    rows = []
    for e in events:
        if e.get("event") != "tests":
            continue
        output = e.get("output") if isinstance(e.get("output"), str) else None
        head = (_read_text(run_dir / output) or "").split("\n", 2) if output else []
        rows.append(SuiteRun(
            label=str(e.get("label", "?")), scope=str(e.get("scope", "?")),
            passed=bool(e.get("passed")), failing=[str(t) for t in e.get("failing") or []],
            output=output,
            # the recorder writes "$ <command>\n<how it ended>\n" before the output
            command=head[0].removeprefix("$ ") if head and head[0].startswith("$ ") else None,
            ended=head[1] if len(head) > 1 and head[1] else None))
    return rows


def _routing(events: list[dict[str, Any]]) -> list[Routing]:
    return [Routing(failing=str(e.get("failing", "?")), owner=str(e.get("owner", "?")),
                    root_cause=str(e.get("root_cause", "")))
            for e in events if e.get("event") == "routed"]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _wall(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)
