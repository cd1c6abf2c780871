"""The grading decision (engine-free): resolved iff every FAIL_TO_PASS and PASS_TO_PASS test
passed, read through the runners' parsers; a harness ticket's verdict is the baseline's."""

from __future__ import annotations

from harness.eval.grade import decide, patched_files, without_files
from harness.eval.instances import Instance
from harness.sandbox.baseline import Baseline, judge
from harness.sandbox.testreport import parse_test_output

TAP = """TAP version 13
# Subtest: joins words
ok 1 - joins words
# Subtest: trims dashes
{trim} 2 - trims dashes
1..2
"""


def verdict(trim: str, names: tuple[str, ...], exit_code: int,
            baseline: Baseline | None = None) -> object:
    report = parse_test_output(TAP.format(trim=trim), "", exit_code)
    return judge(report, ok=exit_code == 0, stopped=False, scope="full", baseline=baseline,
                 fail_to_pass=names)


def inst(p2p: tuple[str, ...] | None = ("joins words",)) -> Instance:
    return Instance(instance_id="i-1", FAIL_TO_PASS=("trims dashes",), PASS_TO_PASS=p2p)


def test_every_listed_test_passing_resolves() -> None:
    v = verdict("ok", ("trims dashes", "joins words"), 0)
    grade = decide(inst(), v, stopped=False)  # type: ignore[arg-type]
    assert grade.resolved
    assert grade.tests == {"trims dashes": "passed", "joins words": "passed"}


def test_a_failing_fail_to_pass_test_does_not() -> None:
    v = verdict("not ok", ("trims dashes", "joins words"), 1)
    grade = decide(inst(), v, stopped=False)  # type: ignore[arg-type]
    assert grade.outcome == "unresolved"
    assert "trims dashes (failed)" in grade.detail


def test_a_test_missing_from_the_output_is_not_passed() -> None:
    v = verdict("not ok", ("trims dashes", "joins words", "gone"), 1)
    grade = decide(inst(("joins words", "gone")), v, stopped=False)  # type: ignore[arg-type]
    assert grade.tests["gone"] == "not run"
    assert not grade.resolved


def test_a_stopped_suite_never_resolves() -> None:
    v = verdict("ok", ("trims dashes", "joins words"), 0)
    assert decide(inst(), v, stopped=True).outcome == "unresolved"  # type: ignore[arg-type]


def test_empty_lists_resolve_an_empty_patch() -> None:
    v = verdict("not ok", (), 1)
    empty = Instance(instance_id="i-2")
    assert decide(empty, v, stopped=False).resolved  # type: ignore[arg-type]


def test_a_ticket_without_pass_to_pass_is_judged_against_the_base_commit() -> None:
    base = Baseline("c", "img", "node --test", 1, False, "tap", ("trims dashes",),
                    ("joins words",), 1.0)
    fixed = verdict("ok", ("trims dashes",), 0, base)
    assert decide(inst(None), fixed, stopped=False).resolved  # type: ignore[arg-type]
    broke = parse_test_output(TAP.format(trim="ok").replace("ok 1", "not ok 1"), "", 1)
    v = judge(broke, ok=False, stopped=False, scope="full", baseline=base,
              fail_to_pass=("trims dashes",))
    grade = decide(inst(None), v, stopped=False)
    assert not grade.resolved
    assert grade.new_failures == ("joins words",)


def test_the_results_changes_to_the_hidden_tests_files_are_dropped() -> None:
    src = "diff --git a/src/a.js b/src/a.js\n--- a/src/a.js\n+++ b/src/a.js\n@@ -1 +1 @@\n-x\n+y\n"
    test = ("diff --git a/test/a.test.js b/test/a.test.js\n--- a/test/a.test.js\n"
            "+++ b/test/a.test.js\n@@ -1 +1 @@\n-t\n+u\n")
    hidden = patched_files("diff --git a/test/a.test.js b/test/a.test.js\nnew file\n")
    assert hidden == {"test/a.test.js"}
    assert without_files("note\n" + src + test, hidden) == "note\n" + src
    assert without_files(test + src, hidden) == src
    assert without_files(src, set()) == src
    assert without_files("", hidden) == ""  # an empty result
