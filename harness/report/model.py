"""The data of ``harness report``: plain JSON-shaped dicts (TypedDicts), so ``--json`` prints
exactly what the Markdown, HTML and terminal renderers read, and a report can be re-rendered
from its own JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal, TypedDict

from harness.errors import HarnessError

REPORT_MD = "report.md"
REPORT_HTML = "report.html"

# An attempt that did what its stage exists to do; every other outcome (tests_failed,
# timed_out, invalid_manifest, request_changes, routed:<stage>, error, ...) is failure-path
# spend. A Debugger routing is counted there too: it only runs because a stage failed, as in
# the cost model's "debugger routes" path.
SUCCESS = frozenset({"accepted", "passed", "approved"})

# Each stage's failed attempts against the cost model's failure path that prices them.
FAILURE_PATH = {"planner": "planner re-plans", "coder": "coder retries",
                "debugger": "debugger routes", "reviewer": "reviewer rejections"}


class ReportError(HarnessError, ValueError):
    """Nothing to report on: a missing or unreadable run.json, or a path that is neither a run
    nor a batch. A ValueError, so the CLI exits 2 with this one line."""


class AttemptRow(TypedDict):
    label: str
    stage: str
    attempt: int
    tier: str
    vendor: str
    model: str
    control: str | None
    tokens: int
    cost_usd: float
    duration_s: float
    turns: int
    outcome: str
    ok: bool
    detail: str  # its first line
    started_s: float | None  # seconds after the run started (events.jsonl attempt_start)
    diff: str | None  # attempts/<label>.diff, relative to the run dir


class StageMoney(TypedDict):
    stage: str
    attempts: int
    failed: int
    tokens: int
    cost_usd: float
    success_usd: float
    failure_usd: float
    estimate_expected_usd: float | None
    estimate_worst_usd: float | None
    input_tokens: int  # sent to the model: uncached, written to and read from the cache
    cache_read_tokens: int
    cache_share: float | None  # of input_tokens, read from the prompt cache


class PathTotal(TypedDict):
    attempts: int
    tokens: int
    cost_usd: float


class FailureGroup(TypedDict):
    stage: str
    attempts: int
    outcomes: dict[str, int]
    tokens: int
    cost_usd: float
    estimate_path: str | None  # the cost model's failure path for this stage
    estimate_path_usd: float | None  # its marginal worst-case cost


class Money(TypedDict):
    by_stage: list[StageMoney]
    success: PathTotal
    failure: PathTotal
    failure_by_stage: list[FailureGroup]


class StageEstimate(TypedDict):
    expected_usd: float  # the stage's part of the expected run (first attempt succeeds)
    worst_usd: float  # the stage's part of the worst case


class Estimate(TypedDict):
    source: str  # the config the estimate was computed from
    expectations: str  # where the per-stage token figures come from
    expected_tokens: int
    expected_usd: float
    worst_tokens: int
    worst_usd: float
    within_caps: str  # where a cap cuts the worst case, or that it fits
    stages: dict[str, StageEstimate]
    paths: dict[str, float]  # failure path -> its marginal worst-case cost


class SuiteRun(TypedDict):
    label: str
    scope: str
    passed: bool
    failing: list[str]
    output: str | None  # tests/<file>, relative to the run dir
    command: str | None  # from the output file's first line
    ended: str | None  # how it ended, e.g. "exit 1 after 4.8s"


class Routing(TypedDict):
    failing: str
    owner: str
    root_cause: str


class RunReport(TypedDict):
    kind: Literal["run"]
    run_dir: str
    run_id: str
    status: str
    live: bool  # a process still holds the run's lease (meaningful while `running`)
    ticket_id: str
    ticket_title: str
    repo: str | None
    base_ref: str | None
    base_commit: str | None
    started_at: str | None
    ended_at: str | None
    wall_s: float | None  # ended_at - started_at; None while running
    tokens: int
    cost_usd: float
    duration_s: float  # the attempts' own time, as run.json totals it
    detail: str | None
    stopped_in: str | None
    error: str | None
    decomposition: dict[str, Any] | None
    target: dict[str, Any] | None  # the tests the ticket must make pass: tests, source, why
    attempts: list[AttemptRow]
    money: Money
    estimate: Estimate | None
    estimate_note: str  # why there is no estimate, or what to know about the one shown
    tests: list[SuiteRun]
    routing: list[Routing]
    rambling: list[dict[str, Any]]  # events of kind `rambling`, as recorded
    diff: str | None  # final.diff, in full; None when the run has none (yet)


class BatchRow(TypedDict):
    ticket: str
    status: str
    run_dir: str | None
    attempts: dict[str, int]  # per stage, in pipeline order
    tokens: int
    cost_usd: float
    duration_s: float
    report: str | None  # the run's report.html, relative to the batch report
    note: str | None  # what could not be read


class BatchTotals(TypedDict):
    runs: int
    resolved: int
    running: int
    resolve_rate: float
    tokens: int
    cost_usd: float
    duration_s: float


class BatchReport(TypedDict):
    kind: Literal["batch"]
    dir: str
    source: str  # results.jsonl, or a scan of */run.json
    rows: list[BatchRow]
    totals: BatchTotals


def read_json_object(path: Path) -> dict[str, Any]:
    """``path`` as a JSON object, or a ``ReportError`` that names the file and the problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot read it: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: not a JSON object")
    return data


def stage_order(stages: list[str]) -> list[str]:
    """Pipeline order first, then any other stage as met."""
    known = [s for s in ("planner", "coder", "debugger", "reviewer") if s in stages]
    return known + [s for s in dict.fromkeys(stages) if s not in known]


def usd(value: float | None) -> str:
    """Dollars as `harness cost` shows them: four places under a dollar, where runs mostly are."""
    if value is None:
        return "n/a"
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def secs(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.1f}s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m{rest:02d}s"


def short(text: str | None, limit: int = 12) -> str:
    """A commit id or other long token, shortened for tables."""
    return "n/a" if not text else text[:limit]


def link_base(run_dir: Path, out_dir: Path) -> str:
    """The run directory as seen from where its report is written, for relative links."""
    return Path(os.path.relpath(run_dir, out_dir)).as_posix()


def attempts_text(per_stage: dict[str, int]) -> str:
    return " · ".join(f"{stage} {n}" for stage, n in per_stage.items()) or "none"


def rate(value: float) -> str:
    return f"{value:.0%}"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
