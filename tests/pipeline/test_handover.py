"""What one attempt hands the next (issue 22): why it failed (never "the tests failed" when no
test ran), the work so far as a diffstat and a diff that says where it was cut, what the last
attempt said, and the plan around a sub-ticket."""

from __future__ import annotations

import pytest

from harness.config.schema import SandboxConfig
from harness.pipeline.agent import AgentOutcome
from harness.pipeline.handover import checks_section, diff_section, diffstat, failure, summary_of
from harness.pipeline.manifest import Manifest
from harness.pipeline.prompts import (
    CODER,
    DEBUGGER,
    PLANNER,
    REVIEWER,
    Prompt,
    coder_prompt,
    for_cli,
    for_surface,
    reviewer_prompt,
)
from harness.pipeline.roles import Finish
from harness.pipeline.ticket import Ticket
from harness.pipeline.tools import SPECS

# Every harness tool, the terminal ones included: a CLI stage has none of them.
TOOL_NAMES = (*SPECS, "submit_manifest", "submit_diagnosis", "submit_review", "finish")


@pytest.mark.parametrize(("outcome", "detail", "said"), [
    ("error", "anthropic: expected an event stream", "the model call failed; no tests ran: "
     "anthropic: expected an event stream"),
    ("timed_out", "google: no answer", "the attempt timed out before it finished; no tests ran: "
     "google: no answer"),
    ("no_result", "stopped without calling finish", "no result: stopped without calling finish"),
    ("turn_limit", "", "it ran out of turns before it finished; no tests ran"),
    ("error", "", "the model call failed; no tests ran"),
])
def test_a_failure_says_what_happened_then_the_detail(outcome: str, detail: str,
                                                      said: str) -> None:
    """Always a reason first, then the detail — never a dangling ": detail" (found by the fault
    soak: a malformed vendor body's attempt was recorded as ": anthropic: expected...")."""
    assert failure(AgentOutcome(outcome, detail=detail)) == said  # type: ignore[arg-type]


def patch(path: str, lines: int) -> str:
    body = "".join(f"+line {n}\n" for n in range(lines))
    return (f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -0,0 +1,{lines} @@\n"
            f"{body}")


def test_a_cut_diff_keeps_every_file_in_its_stat_and_says_what_was_left_out() -> None:
    diff = patch("src/a.ts", 10) + patch("src/b.ts", 3000) + patch("src/c.ts", 5)
    assert diffstat(diff) == [("src/a.ts", 10, 0), ("src/b.ts", 3000, 0), ("src/c.ts", 5, 0)]
    text = diff_section("The work so far", diff, 2_000)
    assert "3 file(s) changed:" in text
    assert "src/c.ts | +5 -0" in text
    assert "[... the diff is cut here:" in text
    assert "in src/b.ts, src/c.ts; read those files for the rest" in text
    assert len(text) < 3_000


def test_an_empty_diff_says_the_workspace_is_at_the_base() -> None:
    assert "no change" in diff_section("Current diff", "", 100)


def test_a_retry_is_told_no_tests_ran_what_it_said_and_the_work_so_far() -> None:
    manifest = Manifest.model_validate({"summary": "two steps", "sub_tickets": [
        {"id": "S1", "title": "add the parser", "symbols": ["parse"]},
        {"id": "S2", "title": "use it", "depends_on": ["S1"], "symbols": ["main"]}]})
    prompt = coder_prompt(
        Ticket(id="T-1", title="t", body="b"), manifest, manifest.sub_tickets[1], brief=None,
        feedback=failure(AgentOutcome("timed_out")), tests_ran=False,
        work=diff_section("The work so far", patch("src/a.ts", 2), 1000),
        previous=summary_of(AgentOutcome("done", Finish(summary="wired main to parse"))))
    text = prompt.text
    assert "The tests failed" not in text
    assert "no tests ran" in text
    assert "## What your previous attempt said it did\nwired main to parse" in text
    assert "src/a.ts | +2 -0" in text
    assert "Symbols: main" in text
    assert "- S1 — add the parser (this one depends on it)" in text
    # the plan around the sub-ticket is stable context (cached across attempts), the rest not
    assert "Symbols: main" in text[:prompt.stable_chars]
    assert "no tests ran" not in text[:prompt.stable_chars]


def test_a_re_review_sees_its_earlier_findings_after_the_diff() -> None:
    manifest = Manifest.model_validate({"summary": "s", "sub_tickets": [{"id": "S1",
                                                                         "title": "t"}]})
    prompt = reviewer_prompt(Ticket(id="T-1", title="t", body="b"), manifest,
                             diff_section("The change", patch("a.ts", 1), 100), None,
                             tests="The full test suite passed.", earlier="- a.ts:1: name it")
    task = prompt.text[prompt.stable_chars:]
    assert task.index("## The change") < task.index("## Tests") < task.index(
        "## Your earlier findings")
    assert "- a.ts:1: name it" in task


@pytest.mark.parametrize("system", [PLANNER, CODER, DEBUGGER, REVIEWER])
def test_each_stage_states_its_workflow_and_stop_and_a_cli_gets_it_without_our_tools(
        system: str) -> None:
    assert "Workflow:" in system
    assert "Stop when" in system
    cli = for_cli(system)
    assert "Workflow:" in cli
    assert "Stop when" in cli
    for tool in TOOL_NAMES:
        assert f"`{tool}`" not in cli, tool


def test_a_cli_coder_first_turn_names_no_harness_tool() -> None:
    """The checks section tells an SDK Coder to call run_tests; a CLI Coder has no such tool and
    is told to run the tests itself."""
    checks = checks_section(SandboxConfig(test_command="npm test"), ("trims dashes",), True)
    sdk = Prompt(("ticket", checks), ("task",))
    assert "`run_tests`" in sdk.text
    system, cli = for_surface("cli", CODER, sdk)
    assert system == for_cli(CODER)
    for tool in TOOL_NAMES:
        assert f"`{tool}`" not in cli.text, tool
    assert "Run those tests yourself before you finish." in cli.text
    assert "trims dashes" in cli.text
    assert "`npm test`" in cli.text
    assert for_surface("sdk", CODER, sdk) == (CODER, sdk)
