"""The failing tests of real runners' default output, captured (fixtures/runners/capture.py) from
each runner on the same four test files: a passing run, a failing run (twice: names must not
change between runs), a file that throws while loading, a test over its time limit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.sandbox.testreport import TestReport, parse_test_output

RUNNERS = Path(__file__).parent / "fixtures" / "runners"
INDEX = json.loads((RUNNERS / "index.json").read_text())
MATH = ["math > nested > multiplies", "throws a TypeError"]
TAP_MATH = ["math.test.js > math > nested > multiplies",
            "math.test.js > throws a TypeError > Cannot read properties of undefined "
            "(reading 'length')"]
# runner: (format of its default output, failing names of math.test.js, name of the timeout)
EXPECTED: dict[str, tuple[str, list[str], str]] = {
    "vitest5": ("vitest", MATH, "slow > hangs"),
    "vitest3": ("vitest", MATH, "slow > hangs"),
    "jest30": ("jest", MATH, "slow > hangs"),
    "jest29": ("jest", MATH, "slow > hangs"),
    "mocha12": ("mocha", MATH, "slow > hangs"),
    "node22": ("tap", MATH, "slow > hangs"),
    "node22-spec": ("node-test", MATH, "slow > hangs"),
    "tap21": ("tap", TAP_MATH, "slow.test.js > slow > hangs > timeout!"),
    "tap21-tap": ("tap", TAP_MATH, "slow.test.js > slow > hangs > timeout!"),
    "ava6": ("ava", ["math > math > nested > multiplies", "math > throws a TypeError"],
             "slow > slow > hangs"),
    "uvu05": ("uvu", ["math > multiplies", "throws a TypeError"], "slow"),
    "playwright": ("playwright", MATH, "slow > hangs"),
    "playwright-list": ("playwright", MATH, "slow > hangs"),
}
TIMING = re.compile(r"\d+(?:\.\d+)?\s*m?s\b|time=")


def parsed(runner: str, scenario: str) -> TestReport:
    exit_code = INDEX[runner]["scenarios"][scenario]["exit"]
    return parse_test_output((RUNNERS / f"{runner}-{scenario}.out").read_text(),
                             (RUNNERS / f"{runner}-{scenario}.err").read_text(), exit_code)


def test_every_captured_runner_is_covered() -> None:
    assert set(INDEX) == set(EXPECTED)


@pytest.mark.parametrize("runner", sorted(EXPECTED))
def test_a_passing_run(runner: str) -> None:
    report = parsed(runner, "pass")
    assert report.format == EXPECTED[runner][0]
    assert (report.passed, report.failed, report.failing) == (2, 0, ())


@pytest.mark.parametrize("runner", sorted(EXPECTED))
def test_a_failing_run_names_each_failure_the_same_way_every_time(runner: str) -> None:
    fmt, names, _ = EXPECTED[runner]
    first, again = parsed(runner, "fail"), parsed(runner, "fail-again")
    assert first.format == fmt
    assert sorted(t.name for t in first.failing) == sorted(names)
    assert (first.passed, first.failed, first.skipped) == (3, 2, 1)
    assert [(t.name, t.file) for t in again.failing] == [(t.name, t.file) for t in first.failing]
    assert not [t.name for t in first.failing if TIMING.search(t.name)]
    multiplies = next(t for t in first.failing if "multiplies" in t.name)
    assert "5" in multiplies.message
    assert "6" in multiplies.message, multiplies.message
    if multiplies.file is not None:
        assert multiplies.file in ("math.test.js", "math.spec.js")


@pytest.mark.parametrize("runner", sorted(EXPECTED))
def test_a_file_that_throws_while_loading_is_named(runner: str) -> None:
    report = parsed(runner, "crash")
    broken = "broken.spec.js" if runner.startswith("playwright") else "broken.test.js"
    assert [t.name for t in report.failing] == [broken]
    assert report.failed == 1
    if report.format not in ("tap",):  # node-tap prints the file's stderr apart from its TAP
        assert "boom at load" in report.failing[0].message


@pytest.mark.parametrize("runner", sorted(EXPECTED))
def test_a_test_over_its_time_limit_is_named(runner: str) -> None:
    report = parsed(runner, "timeout")
    assert [t.name for t in report.failing] == [EXPECTED[runner][2]]
    message = report.failing[0].message.lower()
    assert "time" in message or "ended before" in message, message


def test_feedback_leads_with_the_failing_names() -> None:
    out, err = (RUNNERS / "jest30-fail.out").read_text(), (RUNNERS / "jest30-fail.err").read_text()
    report = parse_test_output(out, err, 1)
    text = report.feedback(out + err, 4000)
    assert text.startswith("Test results (jest): 3 passed, 2 failed, 1 skipped.")
    assert text.index("- math > nested > multiplies  [math.test.js]") < text.index("Output (tail)")
    assert "Expected: 5" in text


LOGGING = ("jest29", "vitest3", "mocha12")  # runners captured with the logs and hooks scenarios


@pytest.mark.parametrize("runner", LOGGING)
def test_a_passing_run_that_logs_has_no_failure(runner: str) -> None:
    """jest prints what a passing file logged under "● Console": not a test."""
    report = parsed(runner, "logs")
    assert (report.format, report.passed, report.failed, report.failing) == (
        EXPECTED[runner][0], 4, 0, ())


@pytest.mark.parametrize(("runner", "names"), [
    ("jest29", ["setup > needs setup", "hooks.test.js"]),  # jest: an afterAll fails the file
    ("vitest3", ["setup > needs setup", "teardown"]),
    ("mocha12", ["setup > needs setup", "teardown"]),  # not '"before each" hook for ...'
])
def test_a_failing_hook_is_named_as_what_it_failed(runner: str, names: list[str]) -> None:
    report = parsed(runner, "hooks")
    assert sorted(t.name for t in report.failing) == sorted(names)
    assert not [t.name for t in report.failing if '" hook' in t.name]
    assert all("broke" in t.message for t in report.failing)
