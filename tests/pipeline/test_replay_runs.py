"""The replay vendor: a recorded run repeats from its llm/ exchanges with every stage on
``replay`` (no script, no network), and a run that asks something else stops loudly."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.vendors import get_vendor
from harness.vendors.replay import ReplayVendor
from tests.pipeline.conftest import BUGGY, FIXED, TICKET, Outcome, sandbox_section
from tests.pipeline.test_scripted_runs import APPROVE, PLAN, Plays, code, stages

pytestmark = pytest.mark.docker  # every test here needs the engine


def replay_stages(run_dir: Path) -> str:
    vendor = get_vendor("replay")
    assert isinstance(vendor, ReplayVendor)
    vendor.start(run_dir)
    opts = json.dumps({"run_dir": str(run_dir)})
    return (f"planner: {{vendor: replay, model: opus, timeout: 30s, retry_budget: 1, "
            f"vendor_options: {opts}}}\n"
            f"coder: {{vendor: replay, model: sonnet, timeout: 60s, retry_budget: 2, "
            f"on_retry: {{compute: increased}}, vendor_options: {opts}}}\n"
            f"reviewer: {{vendor: replay, model: gemini-flash, timeout: 30s, retry_budget: 1, "
            f"vendor_options: {opts}}}\n" + sandbox_section())


def test_a_recorded_run_replays_exactly(run: Callable[..., Outcome]) -> None:
    original = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY), code(FIXED)),
                           "reviewer": Plays(APPROVE)}))
    assert original.result.status == "resolved"
    again = run(replay_stages(original.result.run_dir))
    assert again.result.status == "resolved", again.result.detail
    assert again.outcomes() == original.outcomes() == [
        "accepted", "tests_failed", "passed", "approved"]
    assert again.result.patch.read_text() == original.result.patch.read_text()
    assert again.state["totals"]["tokens"] == original.state["totals"]["tokens"]


def test_a_diverging_request_stops_the_replay(run: Callable[..., Outcome]) -> None:
    original = run(stages({"planner": Plays(PLAN), "coder": Plays(code(FIXED))}))
    other = TICKET.replace('must be "hi-you"', 'must be "hi_you"')
    again = run(replay_stages(original.result.run_dir), ticket=other)
    assert again.result.status == "error"
    assert "replay diverged from" in again.result.detail
    assert "0001-planner-a1.json: request.messages[0].text" in again.result.detail
