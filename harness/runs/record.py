"""The run directory, a public contract (docs/run-directory.md):

  run.json      the run's state, rewritten atomically after every step (always valid JSON)
  events.jsonl  append-only: one JSON object per event
  llm/          every model exchange in full (request and response), secrets redacted
  tests/        each test run's command and output
  attempts/     each Coder attempt's diff against the base commit
  final.diff    the patch the run ends with
  HANDOFF.md    when a stage surfaces to a human
  crash.txt     the traceback of an unexpected exception

Everything written here is redacted first (``harness.vendors.common.redact``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.pipeline.events import AttemptRecord
from harness.runs import cache_share
from harness.vendors.common import redact, redact_data
from harness.vendors.errors import VendorError
from harness.vendors.transcript import request_record, response_record
from harness.vendors.types import ModelRequest, ModelResponse

RUN_JSON = "run.json"
CRASH = "crash.txt"
RUNNING = "running"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_json_atomic(path: Path, data: Any) -> None:
    """``data`` as JSON at ``path``, redacted; readers see the old file or the new one, never a
    part, even after a power cut."""
    write_text_atomic(path, json.dumps(redact_data(data), indent=2, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write a temp file, fsync it, rename it over ``path``, fsync the directory (the rename is
    durable only once the directory is)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    sync_dir(path.parent)


def sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RunRecorder:
    """Writes one run's directory. Every method leaves the directory consistent."""

    def __init__(self, run_dir: Path, state: dict[str, Any], *,
                 listener: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.listener = listener
        self.state: dict[str, Any] = {
            "status": RUNNING, "started_at": _now(), "pid": os.getpid(), "run_dir": str(run_dir),
            **state, "attempts": [], "totals": _totals([])}
        self._exchanges = 0
        self._tests = 0
        # Made under a hidden name and renamed whole: a process killed meanwhile leaves no run
        # directory without its run.json (a resumed batch, reports and gc read every one).
        staging = run_dir.parent / f".{run_dir.name}.new"
        for sub in ("llm", "tests", "attempts"):
            (staging / sub).mkdir(parents=True, exist_ok=True)
        self.dir = staging
        self.save()
        staging.rename(run_dir)
        self.dir = run_dir

    @classmethod
    def reopen(cls, run_dir: Path, state: dict[str, Any], *,
               listener: Callable[[str, dict[str, Any]], None] | None = None) -> RunRecorder:
        """A finished run's directory, written on by a resumed run (``harness resume``): its
        attempts, exchanges and test outputs are kept and numbered on from the last."""
        self = cls.__new__(cls)
        self.listener = listener
        self.dir = run_dir
        self.state = {**state, "status": RUNNING, "pid": os.getpid()}
        self.state.pop("ended_at", None)
        self._exchanges = _last_number(run_dir / "llm")
        self._tests = _last_number(run_dir / "tests")
        self.save()
        return self

    def save(self) -> None:
        write_json_atomic(self.dir / RUN_JSON, self.state)

    def update(self, **fields: Any) -> None:
        self.state.update(fields)
        self.save()

    def event(self, kind: str, **data: Any) -> None:
        line = json.dumps(redact_data({"t": _now(), "event": kind, **data}), default=str)
        with (self.dir / "events.jsonl").open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        if self.listener is not None:
            self.listener(kind, data)

    def exchange(self, stage: str, attempt: int, request: ModelRequest,
                 response: ModelResponse | None, error: BaseException | None = None, *,
                 workspace: str | None = None, vendor: str | None = None) -> str:
        """Record one model call in full; returns its file name under llm/. ``workspace``: the
        workspace a CLI session left (a patch), which a replay puts back; ``vendor``: who was
        sent it (a stage's fallback, or its own vendor)."""
        self._exchanges += 1
        name = f"{self._exchanges:04d}-{stage}-a{attempt}.json"
        body = {"stage": stage, "attempt": attempt, "vendor": vendor,
                "model_id": request.settings.model_id, "request": request_record(request),
                "response": response_record(response) if response else None,
                "error": str(error) if error else None,
                "error_type": type(error).__name__ if error else None}
        if isinstance(error, VendorError) and error.spent is not None:
            # a failed call's spend, counted again by a replay
            body.update(spent=dataclasses.asdict(error.spent), spent_cost_usd=error.cost_usd)
        if workspace is not None:
            body["workspace"] = workspace
        text = json.dumps(redact_data(body), indent=1, default=str)
        write_text_atomic(self.dir / "llm" / name, text + "\n")
        return name

    def test_output(self, label: str, command: str, output: str) -> str:
        self._tests += 1
        name = f"{self._tests:03d}-{label}.txt"
        write_text_atomic(self.dir / "tests" / name, redact(f"$ {command}\n{output}"))
        return f"tests/{name}"

    def attempt_diff(self, label: str, diff: str) -> str:
        write_text_atomic(self.dir / "attempts" / f"{label}.diff", redact(diff))
        return f"attempts/{label}.diff"

    def attempt(self, record: AttemptRecord) -> None:
        attempts = [*self.state["attempts"], dataclasses.asdict(record)]
        self.update(attempts=attempts, totals=_totals(attempts),
                    cache=cache_share.by_stage(attempts))

    def finish(self, status: str, **fields: Any) -> None:
        self.update(status=status, ended_at=_now(), **fields)
        self.event("run_end", status=status)

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        write_text_atomic(path, redact(text))
        return path

    def write_crash(self, exc: BaseException) -> str:
        """The traceback of an unexpected exception, as ``crash.txt``; returns the name."""
        self.write(CRASH, "".join(traceback.format_exception(exc)))
        return CRASH


def _last_number(directory: Path) -> int:
    """The highest ``NNN-`` prefix of a file in ``directory`` (0 when there is none)."""
    numbers = [int(p.name.split("-", 1)[0]) for p in directory.glob("*")
               if p.name.split("-", 1)[0].isdigit()] if directory.is_dir() else []
    return max(numbers, default=0)


def _totals(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
            "thinking_tokens")
    totals: dict[str, Any] = {k: sum(a["usage"][k] for a in attempts) for k in keys}
    totals["tokens"] = sum(a["tokens"] for a in attempts)
    totals["cost_usd"] = round(sum(a["cost_usd"] for a in attempts), 6)
    totals["duration_s"] = round(sum(a["duration_s"] for a in attempts), 3)
    return totals
