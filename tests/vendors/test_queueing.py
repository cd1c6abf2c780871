"""A wait for a vendor's capacity (a 429's retry-after) is queueing, not work: it moves the call's
deadline instead of using it up, up to the attempt's queueing budget (issue 22: the timeout is a
wall-clock backstop that excludes queueing)."""

from __future__ import annotations

import time

import pytest

from harness.config.catalog import packaged_catalog
from harness.vendors.anthropic_sdk import AnthropicOptions
from harness.vendors.common import RetryAfter, within_deadline
from harness.vendors.errors import RateLimitedError, TransientVendorError
from harness.vendors.types import CallSettings, ModelRequest, Queueing

SETTINGS = CallSettings("claude-sonnet-5-5", packaged_catalog().models["claude-sonnet-5-5"],
                        None, AnthropicOptions(), 1024, None, "ANTHROPIC_API_KEY")


def request(seconds: float, queueing: Queueing | None) -> ModelRequest:
    return ModelRequest(SETTINGS, "system", (), time.monotonic() + seconds, queueing=queueing)


def faults(*errors: Exception) -> tuple[list[float], object]:
    calls: list[float] = []
    pending = list(errors)

    def call(left: float) -> str:
        calls.append(left)
        if pending:
            raise pending.pop(0)
        return "answered"
    return calls, call


def limited(after: float) -> RetryAfter:
    return RetryAfter(RateLimitedError("anthropic", "429 rate limited"), after)


def test_a_rate_limit_wait_moves_the_deadline_instead_of_using_it() -> None:
    """A 1 s deadline and two 3 s waits: refused before (3 s > what is left), answered now."""
    waits: list[float] = []
    queue = Queueing(budget=10)
    req = request(1.0, queue)
    calls, call = faults(limited(3), limited(3))
    assert within_deadline(req, call, sleep=waits.append) == "answered"  # type: ignore[arg-type]
    assert waits == [3, 3]
    assert (queue.spent, queue.pending) == (6, 6)
    assert req.end == pytest.approx(req.deadline + 6)
    assert calls[-1] > 6  # the last try had the moved deadline's time
    assert queue.take() == 6
    assert queue.pending == 0


def test_queueing_stops_at_its_budget_then_the_deadline_decides() -> None:
    """3 s queued of a 4 s budget; the next 5 s wait is past it and past the 4 s left."""
    calls, call = faults(limited(3), limited(5))
    with pytest.raises(RateLimitedError):
        within_deadline(request(1.0, Queueing(budget=4)), call, sleep=lambda _: None)  # type: ignore[arg-type]
    assert len(calls) == 2


def test_an_overloaded_vendor_is_not_queueing_and_no_clock_is_no_queueing() -> None:
    _, call = faults(RetryAfter(TransientVendorError("anthropic", "529 overloaded"), 3))
    with pytest.raises(TransientVendorError):
        within_deadline(request(1.0, Queueing(budget=10)), call, sleep=lambda _: None)  # type: ignore[arg-type]
    _, call = faults(limited(3))
    with pytest.raises(RateLimitedError):
        within_deadline(request(1.0, None), call, sleep=lambda _: None)  # type: ignore[arg-type]
