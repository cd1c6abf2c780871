"""Test-output parsing against real runner output (see fixtures/README.md for how each was made)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.sandbox.testreport import (
    MESSAGE_MAX_LINES,
    FailingTest,
    TestReport,
    parse_test_output,
)

FIXTURES = Path(__file__).parent / "fixtures"

# The failing leaves of src/node/math.test.js, whichever node reporter printed them.
NODE_FAILING = [
    "math > subtracts numbers",
    "math > nested > multiplies",
    "top level throws",
    "with subtests > sub fails",
]
# The failing tests of src/vitest/math.test.js and src/jest/math.test.js (the same tests).
VITEST_FAILING = [
    "math > subtracts numbers",
    "math > nested > compares objects",
    "top level throws",
]

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<testsuites><testsuite name="s"><testcase name="&lol3;"><failure message="x"/></testcase>
</testsuite></testsuites>
"""


def fixture(name: str) -> str:
    # Bytes, not read_text(): universal newlines would hide the TTY capture's CRLF.
    return (FIXTURES / name).read_bytes().decode("utf-8")


def names(report: TestReport) -> list[str]:
    return [t.name for t in report.failing]


def by_name(report: TestReport, name: str) -> FailingTest:
    return next(t for t in report.failing if t.name == name)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("node20-tap.txt", "tap"),
        ("node20-spec.txt", "node-test"),
        ("node20-spec-tty.txt", "node-test"),
        ("node20-junit.xml", "junit"),
    ],
)
def test_node_reporters_agree_on_one_run(name: str, fmt: str) -> None:
    report = parse_test_output(fixture(name), "", 1)

    assert report.format == fmt
    # 5 passing leaves; 4 failing leaves (parents failing only through them are not counted);
    # 3 skipped: it.skip, a test skipped by option, and a todo.
    assert (report.passed, report.failed, report.skipped) == (5, 4, 3)
    assert names(report) == NODE_FAILING
    assert report.failed == len(report.failing)
    for test in report.failing:
        assert test.file is not None
        assert test.file.endswith("test/math.test.js")
        assert "\x1b" not in test.message
        assert "node:internal" not in test.message  # runtime frames are dropped


@pytest.mark.parametrize("name", ["node20-tap.txt", "node20-spec.txt", "node20-junit.xml"])
def test_node_messages_keep_the_assertion_and_the_users_frame(name: str) -> None:
    report = parse_test_output(fixture(name), "", 1)

    subtract = by_name(report, "math > subtracts numbers").message
    assert "Expected values to be strictly equal:" in subtract
    assert "3 !== 4" in subtract
    assert subtract.splitlines()[-1].endswith("test/math.test.js:11:12)")

    diff = by_name(report, "math > nested > multiplies").message
    assert "+     3" in diff
    assert "-     4" in diff

    assert "boom: something exploded" in by_name(report, "top level throws").message
    assert "expected truthy value" in by_name(report, "with subtests > sub fails").message


def test_tap_adds_values_hidden_by_a_custom_assertion_message() -> None:
    report = parse_test_output(fixture("node20-tap.txt"), "", 1)

    message = by_name(report, "with subtests > sub fails").message
    assert message.splitlines()[:3] == ["expected truthy value", "expected: true", "actual: false"]


@pytest.mark.parametrize(("name", "file"), [
    ("node20-tap.txt", "/tmp/jsproj/test/math.test.js"),  # TAP's location, less line:column
    ("node20-spec.txt", "test/math.test.js"),  # spec's closing "failing tests" section
])
def test_node_failure_file(name: str, file: str) -> None:
    report = parse_test_output(fixture(name), "", 1)

    assert {t.file for t in report.failing} == {file}


@pytest.mark.parametrize(("name", "fmt"), [("node20-edge-tap.txt", "tap"),
                                           ("node20-edge-spec.txt", "node-test")])
def test_node_hook_failure_and_unloadable_file(name: str, fmt: str) -> None:
    report = parse_test_output(fixture(name), "", 1)

    assert report.format == fmt
    assert (report.passed, report.failed, report.skipped) == (1, 3, 0)
    # The suite whose before() hook threw fails on its own, so it is listed (before the test it
    # cancelled); a file that would not import is a failing test named after the file.
    assert names(report) == ["/tmp/jsedge/test/broken.test.js", "db", "db > reads rows"]
    assert "cannot connect to db" in by_name(report, "db").message
    assert "cancelled" in by_name(report, "db > reads rows").message
    assert by_name(report, "db").file is not None


def test_tap_unloadable_file_carries_the_crash_from_the_diagnostics() -> None:
    report = parse_test_output(fixture("node20-edge-tap.txt"), "", 1)

    message = by_name(report, "/tmp/jsedge/test/broken.test.js").message
    assert "Cannot find module '/tmp/jsedge/test/missing-module.js'" in message


@pytest.mark.parametrize("name", ["node20-todo-tap.txt", "node20-todo-spec.txt"])
def test_node_todo_and_hash_in_a_name(name: str) -> None:
    report = parse_test_output(fixture(name), "", 1)

    # A todo is skipped whether it passes or fails (TAP's rule, and node's); "#" in a name is
    # escaped in TAP and bare in spec output, and is part of the name either way.
    assert (report.passed, report.failed, report.skipped) == (0, 1, 2)
    assert names(report) == ["has # hash in name"]


def test_passing_tap_run() -> None:
    report = parse_test_output(fixture("node20-pass-tap.txt"), "", 0)

    assert report == TestReport("tap", 1, 0, 1, (), ("strings match",))


def test_plain_tap_without_version_or_yaml() -> None:
    out = "ok 1 - adds\nnot ok 2 - subtracts\nok 3 - rounds # SKIP no db\n1..3\n"

    report = parse_test_output(out, "", 1)

    assert report.format == "tap"
    assert (report.passed, report.failed, report.skipped) == (1, 1, 1)
    assert names(report) == ["subtracts"]


def test_tap_parent_failing_only_through_subtests_is_not_listed() -> None:
    out = ("TAP version 14\n# Subtest: outer\n    ok 1 - a\n    not ok 2 - b\n    1..2\n"
           "not ok 1 - outer\n1..1\n")

    report = parse_test_output(out, "", 1)

    assert names(report) == ["outer > b"]
    assert (report.passed, report.failed) == (1, 1)


def test_vitest_junit_suites_named_after_files() -> None:
    report = parse_test_output(fixture("vitest3-junit.xml"), "", 1)

    assert report.format == "junit"
    # vitest's case names already hold the describe path; the suite (a file) becomes the file.
    assert names(report) == ["src/broken.test.js", *VITEST_FAILING]
    assert (report.passed, report.failed, report.skipped) == (2, 4, 2)
    assert {t.file for t in report.failing} == {"src/broken.test.js", "src/math.test.js"}
    compare = by_name(report, "math > nested > compares objects").message
    assert compare.splitlines()[-1] == "❯ src/math.test.js:12:35"
    assert "Cannot find module './missing-module.js'" in report.failing[0].message


def test_junit_report_file_wins_over_stdout() -> None:
    report = parse_test_output(fixture("node20-spec.txt"), "", 1,
                               report_files={"reports/junit.xml": fixture("node20-junit.xml")})

    assert report.format == "junit"
    assert names(report) == NODE_FAILING


def test_junit_in_stdout_between_other_output() -> None:
    junit = fixture("node20-junit.xml")
    out = f"> app@1.0.0 test\n> node --test\n\n{junit}\nnpm ERR! Test failed.\n"

    report = parse_test_output(out, "", 1)

    assert report.format == "junit"
    assert names(report) == NODE_FAILING


def test_single_testsuite_root_and_error_element() -> None:
    xml = ('<testsuite name="pytest"><testcase classname="t" name="a" file="tests/test_a.py">'
           '<error message="ImportError: no module named x">trace</error></testcase>'
           '<testcase name="b"/></testsuite>')

    report = parse_test_output(xml, "", 1)

    assert report.format == "junit"
    assert report.failing == (
        FailingTest("pytest > a", "tests/test_a.py", "ImportError: no module named x\ntrace"),)
    assert report.passed == 1


def test_malformed_xml_is_raw() -> None:
    broken = fixture("node20-junit.xml").replace("</testsuite>", "", 1)

    report = parse_test_output(broken, "", 1)

    assert report == TestReport("raw", None, None, None, ())


def test_malformed_xml_report_file_falls_through_to_stdout() -> None:
    report = parse_test_output(fixture("node20-tap.txt"), "", 1,
                               report_files={"junit.xml": "<testsuites><testsuite>"})

    assert report.format == "tap"


def test_xml_with_a_doctype_is_refused() -> None:
    assert parse_test_output(BILLION_LAUGHS, "", 1).format == "raw"
    in_file = parse_test_output("", "", 1, report_files={"junit.xml": BILLION_LAUGHS})
    assert in_file.format == "raw"
    external = ('<?xml version="1.0"?><!DOCTYPE t SYSTEM "file:///etc/passwd">'
                "<testsuites><testsuite name='s'><testcase name='a'/></testsuite></testsuites>")
    assert parse_test_output(external, "", 0).format == "raw"


def test_doctype_quoted_in_cdata_or_a_comment_is_not_a_dtd() -> None:
    xml = ("<?xml version='1.0'?><!-- <!DOCTYPE x> --><testsuites><testsuite name='page'>"
           "<testcase name='renders'><failure><![CDATA[expected <!DOCTYPE html> first]]>"
           "</failure></testcase></testsuite></testsuites>")

    report = parse_test_output(xml, "", 1)

    assert report.format == "junit"
    assert report.failing == (FailingTest("page > renders", None,
                                          "expected <!DOCTYPE html> first"),)


def test_vitest_json() -> None:
    report = parse_test_output(fixture("vitest3.json"), "", 1)

    assert report.format == "vitest-json"
    # A file that failed to import has no assertion results: it is one failure of its own.
    assert names(report) == ["/tmp/vt/src/broken.test.js", *VITEST_FAILING]
    assert (report.passed, report.failed, report.skipped) == (2, 4, 2)  # skip and todo
    subtract = by_name(report, "math > subtracts numbers")
    assert subtract.file == "/tmp/vt/src/math.test.js"
    assert subtract.message == ("AssertionError: expected 3 to be 4 // Object.is equality\n"
                                "at /tmp/vt/src/math.test.js:8:19")


def test_jest_json() -> None:
    report = parse_test_output(fixture("jest29.json"), fixture("jest29-stderr.txt"), 1)

    assert report.format == "jest-json"
    assert names(report) == [*VITEST_FAILING, "/tmp/jt/__tests__/broken.test.js"]
    assert (report.passed, report.failed, report.skipped) == (2, 4, 2)
    compare = by_name(report, "math > nested > compares objects").message
    assert "toEqual" in compare
    assert "+     3," in compare
    assert compare.splitlines()[-1] == "at Object.toEqual (/tmp/jt/__tests__/math.test.js:10:35)"
    suite = report.failing[-1].message
    assert suite.startswith("● Test suite failed to run")
    assert "Cannot find module './missing-module'" in suite


def test_json_report_file_and_json_inside_other_output() -> None:
    from_file = parse_test_output(fixture("vitest3-default.txt"), "", 1,
                                  report_files={"out/results.json": fixture("vitest3.json")})
    wrapped = parse_test_output(
        f"\n> vt@1.0.0 test\n> vitest run --reporter=json\n\n{fixture('vitest3.json')}\n", "", 1)

    assert from_file.format == wrapped.format == "vitest-json"
    assert from_file == wrapped


def test_json_without_test_results_is_not_a_report() -> None:
    out = json.dumps({"numFailedTests": 1, "note": {"a": 1}})

    assert parse_test_output(out, "", 1).format == "raw"


def test_unrecognised_output_is_raw() -> None:
    report = parse_test_output("make: *** [all] Error 2\n", "", 2)

    assert report == TestReport("raw", None, None, None, ())


def test_vitest_default_stdout_alone_is_read_from_its_tree() -> None:
    """Without stderr (where vitest prints the details), the tree still names the failures."""
    report = parse_test_output(fixture("vitest3-default.txt"), "", 1)

    assert (report.format, report.passed, report.failed, report.skipped) == ("vitest", 2, 3, 2)
    assert [t.name for t in report.failing] == VITEST_FAILING
    assert report.failing[0].message == "expected 3 to be 4 // Object.is equality"


def test_raw_with_exit_zero_says_nothing_failed() -> None:
    report = parse_test_output("all fine\n", "", 0)

    assert report == TestReport("raw", None, 0, None, ())


@pytest.mark.parametrize("exit_code", [0, 1, 137])
def test_empty_output(exit_code: int) -> None:
    report = parse_test_output("", "", exit_code)

    assert report.format == "raw"
    assert report.failing == ()
    assert report.failed == (0 if exit_code == 0 else None)
    assert report.feedback("") == report.feedback("", limit=10_000)
    assert "No test report" in report.feedback("")


def test_tap_on_stderr_is_found() -> None:
    report = parse_test_output("", fixture("node20-tap.txt"), 1)

    assert names(report) == NODE_FAILING


def test_long_messages_are_trimmed() -> None:
    lines = "\n".join(f"line {i}" for i in range(40))
    out = ("TAP version 13\nnot ok 1 - long\n  ---\n  error: |-\n"
           + "".join(f"    line {i}\n" for i in range(40)) + "  ...\n1..1\n")

    message = parse_test_output(out, "", 1).failing[0].message

    assert message.splitlines() == [*lines.splitlines()[:MESSAGE_MAX_LINES], "…"]


def test_feedback_order_names_then_messages_then_tail() -> None:
    raw = fixture("node20-spec.txt")
    report = parse_test_output(raw, "", 1)

    text = report.feedback(raw)

    assert text.startswith("Test results (node-test): 5 passed, 4 failed, 3 skipped.")
    listing = text.index("Failing tests (4):")
    details = text.index("Failures:")
    tail = text.index("Output (tail):")
    assert listing < details < tail
    positions = [text.index(f"- {n}", listing) for n in NODE_FAILING]
    assert positions == sorted(positions)
    assert all(p < details for p in positions)
    assert details < text.index("3 !== 4", details) < tail
    assert text.rstrip().endswith("operator: '=='\n  }".rstrip())  # the raw output's last lines


@pytest.mark.parametrize("limit", [0, 1, 40, 200, 500, 1000, 3000, 8000])
def test_feedback_never_exceeds_limit(limit: int) -> None:
    raw = fixture("node20-tap.txt") * 5
    report = parse_test_output(raw, "", 1)

    assert len(report.feedback(raw, limit=limit)) <= limit


def test_feedback_says_how_much_output_was_cut() -> None:
    raw = "".join(f"output line {i:05d}\n" for i in range(2000))
    report = parse_test_output(fixture("node20-tap.txt"), "", 1)

    text = report.feedback(raw, limit=4000)

    assert len(text) <= 4000
    cut = re.search(r"\[… (\d+) characters of earlier output cut …\]\n", text)
    assert cut is not None
    kept = text[cut.end():]
    assert raw.rstrip("\n").endswith(kept)
    assert int(cut[1]) + len(kept) == len(raw.rstrip("\n"))
    assert kept.startswith("output line ")  # cut on a line boundary
    assert "Failing tests (4):" in text  # the details fit and were kept whole


def test_feedback_cuts_long_details_but_keeps_a_tail() -> None:
    failing = tuple(FailingTest(f"test {i}", None, "x" * 200) for i in range(100))
    report = TestReport("junit", 0, 100, 0, failing)
    raw = "summary: 100 failed\n"

    text = report.feedback(raw, limit=2000)

    assert len(text) <= 2000
    assert re.search(r"\[… \d+ characters of failure details cut …\]", text)
    assert text.endswith("Output (tail):\nsummary: 100 failed")
    assert text.index("- test 0") < text.index("Failures:")


def test_feedback_strips_colour_from_raw_output() -> None:
    raw = fixture("node20-spec-tty.txt")

    text = parse_test_output(raw, "", 1).feedback(raw)

    assert "\x1b" not in text
    assert "\r" not in text
