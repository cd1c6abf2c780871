"""What the pipeline reports as it runs: per-attempt records and the ``Recorder`` it writes
through (``harness.runs`` implements it). The meter of the caps is ``harness.budget.meter``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.vendors.types import ModelRequest, ModelResponse, Usage

Status = Literal["resolved", "halted", "needs_human"]


class Exhausted(Exception):  # control flow inside the pipeline; never escapes it
    def __init__(self, stage: str, evidence: str) -> None:
        super().__init__(f"{stage} ran out of attempts")
        self.stage = stage
        self.evidence = evidence


@dataclass(frozen=True)
class Ending:
    status: Status
    stage: str | None = None  # the stage whose ladder ran out
    detail: str = ""


@dataclass(frozen=True)
class AttemptRecord:
    stage: str
    attempt: int
    label: str  # e.g. "coder/S1/a2": unique within the run
    tier: str
    vendor: str
    model: str
    control: str | None
    usage: Usage  # run.json's ``usage``: the attempt's tokens by how they were billed
    tokens: int
    cost_usd: float
    duration_s: float
    turns: int
    outcome: str  # passed, failed, tests_failed, timed_out, error, routed, approved, ...
    detail: str = ""
    tests: list[str] = field(default_factory=list)  # paths under the run dir
    diff: str | None = None
    # Who served the attempt's turns, in order: {vendor, model, fallback, turns, failed}; a
    # second entry when the stage's fallback took over (harness.pipeline.fallback).
    served: list[dict[str, Any]] = field(default_factory=list)


class Recorder(Protocol):
    def event(self, kind: str, **data: Any) -> None: ...

    def exchange(self, stage: str, attempt: int, request: ModelRequest,
                 response: ModelResponse | None, error: BaseException | None = None, *,
                 workspace: str | None = None, vendor: str | None = None) -> str: ...

    def test_output(self, label: str, command: str, output: str) -> str: ...

    def attempt_diff(self, label: str, diff: str) -> str: ...

    def attempt(self, record: AttemptRecord) -> None: ...

    def update(self, **fields: Any) -> None: ...

    def write(self, name: str, text: str) -> Path: ...
