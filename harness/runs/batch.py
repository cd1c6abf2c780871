"""``harness batch``: many tickets, N at a time, into one runs directory that doubles as the
batch's record:

  results.jsonl      one row per finished ticket, appended (and flushed) as each finishes
  predictions.jsonl  the SWE-bench predictions format, rewritten from results at the end
  <run_id>/          each ticket's run directory

Running the same command again skips tickets that have a row (``redo`` forces) and runs the rest,
including any a killed batch left half done. Batch caps stop *starting* tickets once spent;
running tickets finish within their own caps.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from harness.errors import HarnessError
from harness.runs.event_stream import JsonEvents
from harness.runs.execute import RunRequest, RunResult, execute
from harness.runs.history import mark_interrupted, read_run
from harness.runs.record import write_text_atomic
from harness.runs.tickets import BatchItem
from harness.sandbox.engine import connect
from harness.vendors.common import redact_data

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

RESULTS = "results.jsonl"
PREDICTIONS = "predictions.jsonl"
STAGGER_S = 0.2  # between container starts, so N workers do not hit the engine at once


@dataclass(frozen=True)
class BatchSpec:
    items: Sequence[BatchItem]
    repo: Path
    config: Path
    runs_dir: Path
    workers: int = 2
    redo: bool = False
    cost_cap_usd: float | None = None
    token_cap: int | None = None
    history_home: Path | None = None  # where finished runs join their project's history
    events: JsonEvents | None = None  # --json-events: every run's events (local engine only)
    tracer: Tracer | None = None  # each run a trace (local engine only: a tracer stays here)
    # What runs one ticket into its row (default ``run_one``); ``harness eval`` grades it too.
    runner: Runner | None = None


Runner = Callable[[BatchSpec, BatchItem], dict[str, Any]]


@dataclass
class BatchState:
    """What the progress display reads; updated under ``lock`` by the workers."""

    total: int
    skipped: int = 0
    running: set[str] = field(default_factory=set)
    done: list[dict[str, Any]] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)  # held back by a batch cap
    lost: list[str] = field(default_factory=list)  # no result: the engine lost them (rerun)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cost_usd(self) -> float:
        return sum(float(r["cost_usd"]) for r in self.done)

    @property
    def tokens(self) -> int:
        return sum(int(r["tokens"]) for r in self.done)


Listener = Callable[[BatchState], None]
# Runs ``todo`` and records each finished ticket (results.jsonl, ``state``); the local engine
# is a thread pool, harness.scale.engine spreads tickets over a Ray cluster.
Engine = Callable[[BatchSpec, BatchState, Sequence[BatchItem], Listener | None], None]


def finished_rows(runs_dir: Path) -> dict[str, dict[str, Any]]:
    """The last row per ticket in results.jsonl (a torn last line from a kill is ignored)."""
    rows: dict[str, dict[str, Any]] = {}
    path = runs_dir / RESULTS
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[str(row["ticket"])] = row
    return rows


def run_batch(spec: BatchSpec, *, on_change: Listener | None = None,
              engine: Engine | None = None) -> BatchState:
    spec.runs_dir.mkdir(parents=True, exist_ok=True)
    mark_interrupted(spec.runs_dir)
    previous = {} if spec.redo else finished_rows(spec.runs_dir)
    todo = [i for i in spec.items if i.ticket.id not in previous]
    state = BatchState(total=len(spec.items), skipped=len(spec.items) - len(todo))
    state.done.extend(r for t, r in previous.items() if t in {i.ticket.id for i in spec.items})
    (engine or local_engine)(spec, state, todo, on_change)
    write_predictions(spec.runs_dir, [i.ticket.id for i in spec.items])
    return state


def local_engine(spec: BatchSpec, state: BatchState, todo: Sequence[BatchItem],
                 on_change: Listener | None) -> None:
    """Tickets on this machine: a thread pool of ``spec.workers``."""
    worker = _Worker(spec, state, on_change)
    with ThreadPoolExecutor(max(spec.workers, 1), thread_name_prefix="ticket") as pool:
        futures: list[Future[None]] = [pool.submit(worker, item, n)
                                       for n, item in enumerate(todo)]
        for future in futures:
            future.result()


def append_result(runs_dir: Path, row: dict[str, Any]) -> None:
    """One row at the end of results.jsonl, on disk before this returns (callers serialise
    writers). A line torn by a kill is closed first, so it cannot swallow this row."""
    path = runs_dir / RESULTS
    with path.open("a+b") as f:
        torn = f.tell() > 0 and _last_byte(f) != b"\n"
        f.write((b"\n" if torn else b"") + json.dumps(redact_data(row)).encode() + b"\n")
        f.flush()
        os.fsync(f.fileno())


def _last_byte(f: BinaryIO) -> bytes:
    f.seek(-1, os.SEEK_END)
    return f.read(1)


@dataclass
class _Worker:
    spec: BatchSpec
    state: BatchState
    on_change: Listener | None
    writer: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, item: BatchItem, n: int) -> None:
        spec, state = self.spec, self.state
        if n < spec.workers:
            time.sleep(n * STAGGER_S)  # only the first wave would start together
        with state.lock:
            if _capped(spec, state):
                state.not_started.append(item.ticket.id)
                return
            state.running.add(item.ticket.id)
        self._changed()
        row = (spec.runner or run_one)(spec, item)
        with self.writer:
            append_result(spec.runs_dir, row)
        with state.lock:
            state.running.discard(item.ticket.id)
            state.done.append(row)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state)


def _capped(spec: BatchSpec, state: BatchState) -> bool:
    if spec.cost_cap_usd is not None and state.cost_usd >= spec.cost_cap_usd:
        return True
    return spec.token_cap is not None and state.tokens >= spec.token_cap


def run_one(spec: BatchSpec, item: BatchItem) -> dict[str, Any]:
    """One ticket of the batch, run to its end on this machine: its results.jsonl row (the
    local engine's workers and the Ray engine's ticket tasks both run tickets through this)."""
    started = time.monotonic()
    request = RunRequest(item.ticket, item.repo or spec.repo, spec.config, spec.runs_dir,
                         history_home=spec.history_home)
    try:
        listener = spec.events.for_run(ticket=item.ticket.id) if spec.events else None
        result = execute(request, client=connect(), listener=listener, tracer=spec.tracer)
    except HarnessError as exc:  # refused before a run directory existed
        return result_row(item, None, "error", str(exc), time.monotonic() - started)
    except Exception as exc:  # one ticket's crash never stops the others
        return result_row(item, None, "error", f"{type(exc).__name__}: {exc}",
                          time.monotonic() - started)
    return result_row(item, result, result.status, result.detail, time.monotonic() - started)


def result_row(item: BatchItem, result: RunResult | None, status: str, detail: str,
               elapsed: float) -> dict[str, Any]:
    """results.jsonl's row for a ticket: its status, run directory and totals (read from
    run.json, when the run has one)."""
    state = read_run(result.run_dir) if result else None
    attempts: dict[str, int] = {}
    for a in (state or {}).get("attempts", []):
        attempts[a["stage"]] = attempts.get(a["stage"], 0) + 1
    totals = (state or {}).get("totals", {})
    coder = ((state or {}).get("stages", {}).get("coder") or [{}])[0].get("model")
    return {"ticket": item.ticket.id, "status": status,
            "run_dir": result.run_dir.name if result else None,
            "attempts": attempts, "tokens": int(totals.get("tokens", 0)),
            "cost_usd": float(totals.get("cost_usd", 0.0)),
            "duration_s": round(elapsed, 3), "model": coder, "detail": detail[:500]}


def write_predictions(runs_dir: Path, order: Sequence[str]) -> Path:
    """predictions.jsonl: one row per finished ticket with a run, in the batch's order."""
    rows = finished_rows(runs_dir)
    lines = []
    for ticket in order:
        row = rows.get(ticket)
        if row is None or not row.get("run_dir"):
            continue
        diff = runs_dir / str(row["run_dir"]) / "final.diff"
        lines.append(json.dumps(redact_data({
            "instance_id": ticket,
            "model_name_or_path": f"harness/{row.get('model') or 'unknown'}",
            "model_patch": diff.read_text(encoding="utf-8") if diff.exists() else "",
        })) + "\n")
    path = runs_dir / PREDICTIONS
    write_text_atomic(path, "".join(lines))
    return path
