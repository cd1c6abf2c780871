"""The run directory, a public contract (docs/run-directory.md):

  run.json      the run's state, rewritten atomically after every step (always valid JSON)
  events.jsonl  append-only: one JSON object per event
  llm/          every model exchange in full (request and response), secrets redacted
  tests/        each test run's command and output
  attempts/     each Coder attempt's diff against the base commit
  final.diff    the patch the run ends with
  HANDOFF.md    when a stage surfaces to a human
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.pipeline.events import AttemptRecord
from harness.runs import cache_share
from harness.vendors.common import redact
from harness.vendors.transcript import request_record, response_record
from harness.vendors.types import ModelRequest, ModelResponse

RUN_JSON = "run.json"
RUNNING = "running"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)


class RunRecorder:
    """Writes one run's directory. Every method leaves the directory consistent."""

    def __init__(self, run_dir: Path, state: dict[str, Any], *,
                 listener: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.dir = run_dir
        self.listener = listener
        for sub in ("llm", "tests", "attempts"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.state: dict[str, Any] = {
            "status": RUNNING, "started_at": _now(), "pid": os.getpid(), "run_dir": str(run_dir),
            **state, "attempts": [], "totals": _totals([])}
        self._exchanges = 0
        self._tests = 0
        self.save()

    def save(self) -> None:
        write_json_atomic(self.dir / RUN_JSON, self.state)

    def update(self, **fields: Any) -> None:
        self.state.update(fields)
        self.save()

    def event(self, kind: str, **data: Any) -> None:
        line = json.dumps({"t": _now(), "event": kind, **data}, default=str)
        with (self.dir / "events.jsonl").open("a", encoding="utf-8") as f:
            f.write(redact(line) + "\n")
        if self.listener is not None:
            self.listener(kind, data)

    def exchange(self, stage: str, attempt: int, request: ModelRequest,
                 response: ModelResponse | None, error: BaseException | None = None) -> str:
        """Record one model call in full; returns its file name under llm/."""
        self._exchanges += 1
        name = f"{self._exchanges:04d}-{stage}-a{attempt}.json"
        body = {"stage": stage, "attempt": attempt, "request": request_record(request),
                "response": response_record(response) if response else None,
                "error": str(error) if error else None,
                "error_type": type(error).__name__ if error else None}
        text = json.dumps(body, indent=1, default=str)
        (self.dir / "llm" / name).write_text(redact(text) + "\n", encoding="utf-8")
        return name

    def test_output(self, label: str, command: str, output: str) -> str:
        self._tests += 1
        name = f"{self._tests:03d}-{label}.txt"
        (self.dir / "tests" / name).write_text(f"$ {command}\n{output}", encoding="utf-8")
        return f"tests/{name}"

    def attempt_diff(self, label: str, diff: str) -> str:
        (self.dir / "attempts" / f"{label}.diff").write_text(diff, encoding="utf-8")
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
        path.write_text(text, encoding="utf-8")
        return path


def _totals(attempts: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
            "thinking_tokens")
    totals: dict[str, Any] = {k: sum(a["usage"][k] for a in attempts) for k in keys}
    totals["tokens"] = sum(a["tokens"] for a in attempts)
    totals["cost_usd"] = round(sum(a["cost_usd"] for a in attempts), 6)
    totals["duration_s"] = round(sum(a["duration_s"] for a in attempts), 3)
    return totals
