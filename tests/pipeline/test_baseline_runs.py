"""A baseline before blame, end to end: the suite runs once at the base commit (cached for the
next run on that commit and image), a test that already failed there never counts against the
Coder, and the ticket's fail_to_pass tests must pass."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.report.markdown import run_markdown
from harness.report.run import run_report
from harness.vendors.scripted import Reply
from tests.pipeline.conftest import BUGGY, FIXED, MANIFEST, TICKET, Outcome, git
from tests.pipeline.test_scripted_runs import PLAN, Play, Plays, code, stages

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


NO_FTP = TICKET.replace("fail_to_pass: [trims dashes]\n", "")
NOOP: Play = [Reply("", [("read_file", {"path": "src/slug.js"})]),
              Reply("", [("finish", {"summary": "nothing to do"})])]


def declaring(*names: str) -> Play:
    return [Reply("", [("submit_manifest", {**MANIFEST, "acceptance_tests": list(names)})])]


def test_without_fail_to_pass_and_no_declared_target_new_failures_decide(
        run: Callable[..., Outcome]) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY))}), ticket=NO_FTP)
    assert out.result.status == "resolved"  # "trims dashes" failed before the ticket too
    (verdict,) = [e["verdict"] for e in events(out, "tests")]
    assert verdict["pre_existing"] == ["trims dashes"]  # type: ignore[index]
    assert out.state["target"]["source"] == "none"


def test_a_change_that_changes_nothing_never_resolves(run: Callable[..., Outcome]) -> None:
    """The user committed the failing test, then filed the ticket without fail_to_pass: a
    Coder that changes nothing is not accepted, whatever the baseline forgives."""
    planner, coder = Plays(PLAN), Plays(NOOP)
    out = run(stages({"planner": planner, "coder": coder}), ticket=NO_FTP)
    assert out.result.status != "resolved"
    assert out.outcomes("coder") == ["no_change"] * 3
    retry = coder.prompts()[1]
    assert "left the repository unchanged" in retry
    assert "The tests failed after your change" not in retry
    assert events(out, "tests") == []  # an empty diff is refused before any test runs
    assert out.result.patch.read_text() == ""
    prompt = planner.prompts()[0]
    assert "## Tests that already fail at the base commit" in prompt
    assert "- trims dashes" in prompt


def test_the_planners_acceptance_test_must_pass(run: Callable[..., Outcome]) -> None:
    planner = Plays(declaring("no such test"), declaring("trims dashes"))
    coder = Plays(code(BUGGY), code(FIXED))  # BUGGY changes the code, the test still fails
    out = run(stages({"planner": planner, "coder": coder}), ticket=NO_FTP)
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes() == ["invalid_manifest", "accepted", "tests_failed", "passed"]
    assert "acceptance test `no such test` does not fail at the base" in planner.prompts()[1]
    first, second = [e["verdict"] for e in events(out, "tests")]
    assert first["fail_to_pass"] == {"trims dashes": "failed"}  # type: ignore[index]
    assert second["fail_to_pass"] == {"trims dashes": "passed"}  # type: ignore[index]
    target = out.state["target"]
    assert (target["tests"], target["source"]) == (["trims dashes"], "planner")
    assert "declared by the Planner" in target["why"]
    report = run_report(out.result.run_dir)
    assert report["target"] == target
    assert "trims dashes (declared by the Planner" in run_markdown(report, ".")


def test_an_earlier_sub_ticket_is_judged_on_new_failures_only(
        run: Callable[..., Outcome]) -> None:
    first = {**MANIFEST["sub_tickets"][0], "id": "S1"}  # type: ignore[dict-item]
    split = {"summary": "in two steps", "sub_tickets": [
        first, {**first, "id": "S2", "title": "then trim", "depends_on": ["S1"]}]}
    planner = Plays([Reply("", [("submit_manifest", split)])])
    out = run(stages({"planner": planner, "coder": Plays(code(BUGGY), code(FIXED))},
                     coder={"retry_budget": 0}))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes("coder") == ["passed", "passed"]
    s1, s2 = [e["verdict"] for e in events(out, "tests")]
    assert s1["fail_to_pass"] == {}  # type: ignore[index]
    assert s1["passed"]  # type: ignore[index]
    assert s2["fail_to_pass"] == {"trims dashes": "passed"}  # type: ignore[index]
