"""Turns what a test command printed inside the sandbox (and any report files it wrote) into a
typed summary for the Coder's retry.

Tried from the most to the least structured: JUnit XML, vitest/jest JSON, TAP, node's spec
reporter, then the default human output of vitest, jest, mocha, ava, uvu and playwright, then an
uncaught error in a test file ("crash"), else "raw". Names are nested titles joined with " > ",
with no timings, so two runs of the same failure give the same names (``harness reproduce``
compares them)."""

from __future__ import annotations

import re
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
    report = next(found, None)
    if report is None and not files:
        report = _per_package(stdout, stderr, exit_code)
    return report or TestReport("raw", None, 0 if exit_code == 0 else None, None)


# A workspace runner's prefix on each line of a package's output: pnpm's "packages/b test: "
# (and its "packages/b test$ cmd" header), turbo's "b:test: ".
_PREFIXED = re.compile(r"^(\S+ [\w:.-]+)(?:: |\$ |:$)(.*)$|^([\w@/.-]+:[\w.-]+): (.*)$")


def _per_package(stdout: str, stderr: str, exit_code: int) -> TestReport | None:
    """Output a workspace runner interleaved from several packages: each package's own lines
    parsed on their own, the names prefixed with the package."""
    streams: dict[str, list[str]] = {}
    lines = [ln for ln in (stdout + "\n" + stderr).splitlines() if ln.strip()]
    for line in lines:
        m = _PREFIXED.match(line)
        if m is not None:
            prefix = (m[1] or m[3]).split(" ")[0].split(":")[0]
            streams.setdefault(prefix, []).append(m[2] if m[1] else m[4])
    if not streams or sum(map(len, streams.values())) < len(lines) // 2:
        return None
    reports = {p: next((r for r in _attempts("\n".join(body), "", {}, exit_code) if r), None)
               for p, body in streams.items()}
    found = {p: r for p, r in reports.items() if r is not None}
    if not found:
        return None

    def total(attr: str) -> int | None:
        values = [getattr(r, attr) for r in found.values()]
        return None if None in values else sum(values)

    failing = tuple(FailingTest(p + SEP + t.name, t.file and f"{p}/{t.file}", t.message)
                    for p, r in found.items() for t in r.failing)
    passing = tuple(p + SEP + n for p, r in found.items() for n in r.passing)
    fmt = next(iter(found.values())).format
    return TestReport(fmt, total("passed"), len(failing), total("skipped"), failing, passing)


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
