"""What a failed attempt's record (and the next attempt's prompt) says about why it failed:
always a reason first, then the detail — never a dangling ": detail" (found by the fault soak:
a malformed vendor body's attempt was recorded as ": anthropic: expected an event stream...")."""

from __future__ import annotations

import pytest

from harness.pipeline.agent import AgentOutcome
from harness.pipeline.orchestrator import _failure


@pytest.mark.parametrize(("outcome", "detail", "said"), [
    ("error", "anthropic: expected an event stream", "the model call failed: anthropic: "
     "expected an event stream"),
    ("timed_out", "google: no answer", "the attempt timed out: google: no answer"),
    ("no_result", "stopped without calling finish", "no result: stopped without calling finish"),
    ("turn_limit", "", "it ran out of turns"),
    ("error", "", "the model call failed"),
])
def test_a_failure_says_what_happened_then_the_detail(outcome: str, detail: str,
                                                      said: str) -> None:
    assert _failure(AgentOutcome(outcome, detail=detail)) == said  # type: ignore[arg-type]
