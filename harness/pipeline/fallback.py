"""Who answers an attempt's turns: the stage's own vendor, until it has failed ``after`` times
running (overloaded, 5xx, 429, a dropped connection, a call past ``call_timeout``), then the
stage's ``fallback:`` for the rest of the attempt. What served each turn goes on record.

The primary's calls are bounded while a fallback waits (a few in-call retries, ``call_timeout``
each), so an outage costs seconds, not the stage's timeout. A refused request or key is not an
outage: it ends the attempt as before.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

from harness.pipeline.events import Recorder
from harness.stages.plan import Attempt
from harness.vendors.common import MIN_ATTEMPT_SECONDS
from harness.vendors.errors import (
    RateLimitedError,
    TransientVendorError,
    VendorError,
    VendorTimeoutError,
)
from harness.vendors.types import CallSettings, Message, Queueing

# Faults a vendor being down produces; anything else is about the request, which the fallback
# would refuse too (400) or is ours to fix (401/403).
OUTAGE = (TransientVendorError, RateLimitedError, VendorTimeoutError)
# Retries inside one primary call while a fallback waits: what the vendors' own SDK clients
# default to (anthropic, google-genai: 2). The call with its retries is one failure.
IN_CALL_RETRIES = 2


class Serving:
    """One attempt's serving vendor and the record of who served its turns (``served``)."""

    def __init__(self, attempt: Attempt, deadline: float, *, stage: str, label: str,
                 recorder: Recorder) -> None:
        self.primary = attempt
        self.current = attempt
        self.deadline = deadline
        # Waits for a vendor's capacity move the deadline, up to the attempt's timeout again.
        self.queueing = Queueing(budget=max(deadline - time.monotonic(), 0.0))
        self.failures = 0
        self.switched_at: int | None = None  # messages before the switch: the primary's
        self.stage, self.label, self.recorder = stage, label, recorder
        self.served: list[dict[str, Any]] = [_segment(attempt, fallback=False)]

    @property
    def waiting(self) -> bool:
        """A fallback is configured and has not taken over yet."""
        return self.primary.fallback is not None and self.current is self.primary

    def settings(self) -> CallSettings:
        return self.current.settings()

    def call_deadline(self) -> float:
        fb = self.primary.fallback
        if fb is None or not self.waiting:
            return self.deadline
        return min(self.deadline, time.monotonic() + fb.call_timeout)

    def retries(self) -> int | None:
        return IN_CALL_RETRIES if self.waiting else None

    def history(self, messages: Sequence[Message]) -> tuple[Message, ...]:
        """The conversation as the serving vendor is sent it: after a switch, the primary's
        opaque state (signed thinking, thought signatures, cache handles) is dropped, as no
        other vendor can read it."""
        if self.switched_at is None:
            return tuple(messages)
        return tuple(_plain(m) if i < self.switched_at else m for i, m in enumerate(messages))

    def settle_queue(self) -> None:
        """After a call: what it waited for capacity moves the attempt's deadline."""
        waited = self.queueing.take()
        if waited:
            self.deadline += waited
            self.recorder.event("queued", stage=self.stage, label=self.label,
                                seconds=round(waited, 3),
                                total=round(self.queueing.spent, 3))

    def answered(self) -> None:
        self.failures = 0
        self.served[-1]["turns"] += 1

    def failed(self, exc: VendorError, messages: int) -> bool:
        """Whether the turn goes out again (to the primary, or now to the fallback); False: the
        attempt ends with ``exc``. ``messages``: the conversation's length so far."""
        self.served[-1]["failed"] += 1
        fb = self.primary.fallback
        if fb is None or not self.waiting or not isinstance(exc, OUTAGE):
            return False
        self.failures += 1
        now = time.monotonic()
        if self.failures < fb.after:
            return self.deadline - now > MIN_ATTEMPT_SECONDS
        if fb.timeout is not None:
            self.deadline = now + fb.timeout
        if self.deadline - now <= MIN_ATTEMPT_SECONDS:
            return False
        self.current, self.switched_at = fb.attempt, messages
        self.served.append(_segment(fb.attempt, fallback=True))
        self.recorder.event("fallback", stage=self.stage, label=self.label,
                            failures=self.failures, reason=str(exc)[:300],
                            vendor=fb.attempt.vendor.name, model=fb.attempt.model_id)
        return True


def _segment(attempt: Attempt, *, fallback: bool) -> dict[str, Any]:
    """A run of turns one vendor and model served: ``turns`` answered, ``failed`` calls."""
    return {"vendor": attempt.vendor.name, "model": attempt.model_id, "fallback": fallback,
            "turns": 0, "failed": 0}


def _plain(message: Message) -> Message:
    calls = tuple(dataclasses.replace(c, vendor_state=None) for c in message.tool_calls)
    return dataclasses.replace(message, tool_calls=calls, vendor_state=())
