"""A baseline before blame, end to end: the suite runs once at the base commit (cached for the
next run on that commit and image), a test that already failed there never counts against the
Coder, and the ticket's fail_to_pass tests must pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.pipeline.conftest import BUGGY, FIXED, TICKET, Outcome, git
from tests.pipeline.test_scripted_runs import PLAN, Plays, code, stages

pytestmark = pytest.mark.docker  # every test here needs the engine

LEGACY = ('const { test } = require("node:test");\n'
          'const assert = require("node:assert");\n'
          'test("legacy is broken", () => assert.fail("broken long before this ticket"));\n')


def events(out: Outcome, kind: str) -> list[dict[str, object]]:
    lines = (out.result.run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def test_a_failure_from_before_the_ticket_is_not_blamed(run: Callable[..., Outcome],
                                                        repo: Path) -> None:
    (repo / "test" / "legacy.test.js").write_text(LEGACY)
    git(repo, "add", "test/legacy.test.js")
    git(repo, "commit", "-qm", "a test that fails already")
    coder = Plays(code(BUGGY), code(FIXED))
    out = run(stages({"planner": Plays(PLAN), "coder": coder}))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes("coder") == ["tests_failed", "passed"]
    baseline = out.state["baseline"]
    assert sorted(baseline["failing"]) == ["legacy is broken", "trims dashes"]
    assert (baseline["cached"], baseline["passing"]) == (False, 1)
    first, second = [e["verdict"] for e in events(out, "tests")]
    assert first["fail_to_pass"] == {"trims dashes": "failed"}  # type: ignore[index]
    assert second == {"passed": True, "how": "baseline", "new_failures": [],
                      "pre_existing": ["legacy is broken"],
                      "fail_to_pass": {"trims dashes": "passed"}}
    retry = coder.prompts()[1]
    assert "The ticket's tests that must pass do not: trims dashes (failed)" in retry
    assert "2 already failed at the base commit" in retry  # trims dashes is one of them

    again = run(stages({"planner": Plays(PLAN), "coder": Plays(code(FIXED))}))
    assert again.result.status == "resolved"
    assert again.state["baseline"]["cached"] is True  # same commit, same image: not run again
    assert [e["cached"] for e in events(again, "baseline")] == [True]


def test_a_change_that_breaks_a_passing_test_is(run: Callable[..., Outcome]) -> None:
    breaks = 'exports.slugify = (t) => "hi-you";\n'  # trims dashes passes, joins words fails
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(breaks))},
                     coder={"retry_budget": 0}))
    assert out.result.status == "halted"
    (verdict,) = [e["verdict"] for e in events(out, "tests")]
    assert verdict["new_failures"] == ["joins words"]  # type: ignore[index]
    assert verdict["fail_to_pass"] == {"trims dashes": "passed"}  # type: ignore[index]


def test_without_fail_to_pass_a_ticket_is_judged_on_new_failures_only(
        run: Callable[..., Outcome]) -> None:
    ticket = TICKET.replace("fail_to_pass: [trims dashes]\n", "")
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY))}), ticket=ticket)
    assert out.result.status == "resolved"  # "trims dashes" failed before the ticket too
    (verdict,) = [e["verdict"] for e in events(out, "tests")]
    assert verdict["pre_existing"] == ["trims dashes"]  # type: ignore[index]
