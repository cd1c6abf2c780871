"""Turns what a test command printed inside the sandbox (and any report files it wrote) into a
typed summary for the Coder's retry.

Tried from the most to the least structured: JUnit XML, vitest/jest JSON, TAP, node's spec
reporter, then the default human output of vitest, jest, mocha, ava, uvu and playwright, then an
uncaught error in a test file ("crash"), else "raw". Names are nested titles joined with " > ",
with no timings, so two runs of the same failure give the same names (``harness reproduce``
compares them)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from harness.sandbox.testformats import parse_json, parse_junit, parse_spec, parse_tap, xml_in
from harness.sandbox.testformats_text import HUMAN, parse_crash
from harness.sandbox.testresults import (
    MESSAGE_MAX_LINES,
    SEP,
    FailingTest,
    ReportFormat,
    TestReport,
    clean,
)

__all__ = ["MESSAGE_MAX_LINES", "SEP", "FailingTest", "ReportFormat", "TestReport",
           "parse_test_output"]

_NO_FILES: Mapping[str, str] = MappingProxyType({})


def parse_test_output(stdout: str, stderr: str, exit_code: int, *,
                      report_files: Mapping[str, str] = _NO_FILES) -> TestReport:
    """The report for one test command, from the first format that recognises its output."""
    stdout, stderr = clean(stdout), clean(stderr)
    files = {name: clean(text) for name, text in sorted(report_files.items())}
    found = (r for r in _attempts(stdout, stderr, files, exit_code) if r is not None)
    return next(found, None) or TestReport("raw", None, 0 if exit_code == 0 else None, None)


def _attempts(stdout: str, stderr: str, files: dict[str, str],
              exit_code: int) -> Iterator[TestReport | None]:
    # Report files are what the runner meant to write; XML in stdout is read only without them,
    # since a runner that writes both would otherwise be counted twice.
    yield parse_junit(t for n, t in files.items() if n.lower().endswith(".xml"))
    yield parse_junit(x for x in [xml_in(stdout)] if x is not None)
    for text in [*(t for n, t in files.items() if n.lower().endswith(".json")), stdout, stderr]:
        yield parse_json(text)
    for text in (stdout, stderr):
        yield parse_tap(text)
        yield parse_spec(text)
    both = stdout + ("\n" if stdout and stderr else "") + stderr
    for parse in HUMAN:
        yield parse(both)
    if exit_code != 0:
        yield parse_crash(both)
