"""What the pipeline reports as it runs: per-attempt records, the live meter that enforces the
token and cost caps, and the ``Recorder`` it writes through (``harness.runs`` implements it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from harness.errors import RunStopped
from harness.vendors.types import ModelRequest, ModelResponse, Usage


@dataclass(frozen=True)
class UsageRecord:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    thinking_tokens: int = 0

    @classmethod
    def of(cls, usage: Usage) -> UsageRecord:
        return cls(usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                   usage.cache_write_tokens, usage.thinking_tokens)


@dataclass(frozen=True)
class AttemptRecord:
    stage: str
    attempt: int
    label: str  # e.g. "coder/S1/a2": unique within the run
    tier: str
    vendor: str
    model: str
    control: str | None
    usage: UsageRecord
    tokens: int
    cost_usd: float
    duration_s: float
    turns: int
    outcome: str  # passed, failed, tests_failed, timed_out, error, routed, approved, ...
    detail: str = ""
    tests: list[str] = field(default_factory=list)  # paths under the run dir
    diff: str | None = None


class Recorder(Protocol):
    def event(self, kind: str, **data: Any) -> None: ...

    def exchange(self, stage: str, attempt: int, request: ModelRequest,
                 response: ModelResponse | None, error: BaseException | None = None, *,
                 workspace: str | None = None) -> str: ...

    def test_output(self, label: str, command: str, output: str) -> str: ...

    def attempt_diff(self, label: str, diff: str) -> str: ...

    def attempt(self, record: AttemptRecord) -> None: ...

    def update(self, **fields: Any) -> None: ...

    def write(self, name: str, text: str) -> Path: ...


@dataclass
class Meter:
    """Every token of every stage, counted live against the run's caps. ``add`` raises
    ``RunStopped`` the moment a cap is crossed, so no further call is made."""

    token_cap: int
    cost_cap_usd: float | None = None
    tokens: int = 0
    cost_usd: float = 0.0
    on_change: Callable[[Meter], None] | None = None
    ceiling: int | None = None  # a calibrated cap below token_cap, once the decomposition is known
    ceiling_note: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def limit(self, ceiling: int | None, note: str = "") -> None:
        """Hold the run to ``ceiling`` as well as to ``token_cap`` (None: token_cap alone).
        Checked on the next ``add`` or ``check``."""
        self.ceiling, self.ceiling_note = ceiling, note

    @property
    def effective_cap(self) -> int:
        return self.token_cap if self.ceiling is None else min(self.token_cap, self.ceiling)

    def add(self, usage: Usage, cost_usd: float) -> None:
        with self._lock:
            self.tokens += usage.total
            self.cost_usd += cost_usd
        if self.on_change:
            self.on_change(self)
        self.check()

    def check(self) -> None:
        if self.tokens > self.effective_cap and self.effective_cap < self.token_cap:
            raise RunStopped("token_cap_exceeded", f"calibrated token ceiling crossed: "
                             f"{self.tokens:,} tokens > {self.effective_cap:,} = "
                             f"{self.ceiling_note} — the run stopped at once")
        if self.tokens > self.token_cap:
            raise RunStopped("token_cap_exceeded", f"token cap crossed: {self.tokens:,} tokens "
                             f"> token_cap {self.token_cap:,} — the run stopped at once")
        if self.cost_cap_usd is not None and self.cost_usd > self.cost_cap_usd:
            raise RunStopped("cost_cap_exceeded", f"cost cap crossed: ${self.cost_usd:.4f} > "
                             f"cost_cap_usd ${self.cost_cap_usd:.2f} — the run stopped at once")
