"""The default (human) output of common JavaScript test runners, as their users see it in CI:
vitest, jest, mocha, ava, uvu and playwright (its dot and list reporters); and, for anything
else that ended in an uncaught error, the test file it came from ("crash").

Each parser recognises its runner by lines only that runner prints, names failures by their
nested titles joined with " > " (runners' own separators and locations, and any timing, are left
out), and takes passed/skipped counts from the runner's summary: these outputs do not list every
passing test. ``failed`` is always ``len(failing)``."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from harness.sandbox.testresults import (
    LOCATION,
    SEP,
    WORKSPACE,
    FailingTest,
    ReportFormat,
    TestReport,
    test_name,
    trim_message,
    user_frame,
)


@dataclass
class _Failure:
    name: str
    file: str | None
    lines: list[str]


def _report(fmt: ReportFormat, failures: Iterable[_Failure], passed: int | None,
            skipped: int | None, *, expected: int | None = None) -> TestReport | None:
    """None when the runner's summary counts failures but none could be named: better the raw
    output than a report that says nothing failed."""
    seen: dict[tuple[str, str | None], FailingTest] = {}
    for f in failures:
        message = trim_message(textwrap.dedent("\n".join(f.lines)).strip("\n"))
        frame = LOCATION.search(user_frame(f.lines))
        file = f.file or (_relative(frame[1]) if frame else None)
        key = (test_name(f.name), file)
        if key not in seen or not seen[key].message:  # a summary repeats a failure
            seen[key] = FailingTest(key[0], file, message)
    if expected and not seen:
        return None
    return TestReport(fmt, passed, len(seen), skipped, tuple(seen.values()))


def _relative(path: str) -> str:
    path = path.removeprefix("file://")
    return path.removeprefix(WORKSPACE).removeprefix("./")


def _count(pattern: str, text: str) -> int | None:
    found = re.findall(pattern, text, re.MULTILINE)
    return sum(int(n) for n in found) if found else None


def _blocks(lines: list[str], starts: Callable[[str], re.Match[str] | None],
            ends: Callable[[str], bool]) -> list[tuple[re.Match[str], list[str]]]:
    """Each line ``starts`` matches, with the lines after it up to the next start or end."""
    out: list[tuple[re.Match[str], list[str]]] = []
    current: list[str] | None = None
    for line in lines:
        m = starts(line)
        if m is not None:
            out.append((m, current := []))
        elif ends(line):
            current = None
        elif current is not None:
            current.append(line)
    return out


# -- vitest ------------------------------------------------------------------------------------

_VITEST_SUMMARY = re.compile(r"^\s*Test Files\s+.*\(\d+\)\s*$", re.MULTILINE)
_VITEST_FAIL = re.compile(r"^ FAIL  (?:\|[^|]+\| )?(.+?)(?: \[ (.+) \])?\s*$")


def parse_vitest(text: str) -> TestReport | None:
    if not _VITEST_SUMMARY.search(text):
        return None
    failures: list[_Failure] = []
    pending: list[_Failure] = []  # FAIL lines that share the message below them
    for m, body in _blocks(text.splitlines(), _VITEST_FAIL.match, lambda ln: ln.startswith("⎯")):
        file, _, name = m[1].partition(SEP)
        failures.append(f := _Failure(name or file, file, body))
        pending = [*pending, f] if not body else []
        for earlier in pending:
            earlier.lines = body
    tests = re.search(r"^\s*Tests\s+(.*)$", text, re.MULTILINE)
    summary = tests[1] if tests else ""
    return _report("vitest", failures or _vitest_tree(text), _count(r"(\d+) passed", summary) or 0,
                   _count(r"(\d+) (?:skipped|todo)", summary) or 0,
                   expected=_count(r"(\d+) failed", summary))


_VITEST_FILE = re.compile(r"^ [❯✓×] (\S+) \(\d+ tests?")
_VITEST_ENTRY = re.compile(r"^( +)([✓×↓❯]) (.+?)(?: \(\d+\))?(?: \d+(?:\.\d+)?m?s)?\s*$")


def _vitest_tree(text: str) -> list[_Failure]:
    """The failures in the per-file tree on stdout, when the details (stderr) are missing."""
    failures: list[_Failure] = []
    file: str | None = None
    suites: list[tuple[int, str]] = []  # open "❯ suite (n)" lines, by indent
    for line in text.splitlines():
        if (m := _VITEST_FILE.match(line)) is not None:
            file, suites = m[1], []
            continue
        m = _VITEST_ENTRY.match(line)
        if m is None or file is None:
            if failures and line.strip().startswith("→"):
                failures[-1].lines.append(line.strip().removeprefix("→").strip())
            continue
        indent = len(m[1])
        suites = [(i, n) for i, n in suites if i < indent]
        if m[2] == "❯":
            suites.append((indent, m[3]))
        elif m[2] == "×":
            failures.append(_Failure(SEP.join([*(n for _, n in suites), m[3]]), file, []))
    return failures


# -- jest --------------------------------------------------------------------------------------

_JEST_SUMMARY = re.compile(r"^Tests:\s+(.*\d+ total)\s*$", re.MULTILINE)
_JEST_FILE = re.compile(r"^(?:FAIL|PASS) (?:\S+ )?(\S+\.\w+)\b")
_JEST_FAILURE = re.compile(r"^  ● (.+?)\s*$")
# "● Console": what a file's tests logged, under PASS as under FAIL; never a test.
_JEST_NOT_A_TEST = frozenset({"Console"})


def parse_jest(text: str) -> TestReport | None:
    summary = _JEST_SUMMARY.search(text)
    if summary is None or not re.search(r"^Test Suites:", text, re.MULTILINE):
        return None
    failures: list[_Failure] = []
    file: str | None = None  # the file whose results follow, while it is one that FAILed
    current: _Failure | None = None
    for line in text.splitlines():
        if (m := _JEST_FILE.match(line)) is not None:
            file, current = _relative(m[1]) if line.startswith("FAIL") else None, None
        elif (m := _JEST_FAILURE.match(line)) is not None:
            title, current = m[1], None
            if file is not None and title not in _JEST_NOT_A_TEST:
                name = file if title == "Test suite failed to run" else title.replace(" › ", SEP)
                failures.append(current := _Failure(name, file, []))
        elif line.startswith("Test Suites:"):  # what follows (open handles...) names no test
            file = current = None
        elif line.startswith("Summary of all failing tests"):
            current = None
        elif current is not None:
            current.lines.append(line)
    return _report("jest", failures, _count(r"(\d+) passed", summary[1]) or 0,
                   _count(r"(\d+) (?:skipped|todo)", summary[1]) or 0,
                   expected=_count(r"(\d+) failed", summary[1]))


# -- mocha -------------------------------------------------------------------------------------

_MOCHA_PASSING = re.compile(r"^\s+(\d+) passing \(\d+(?:\.\d+)?m?s\)\s*$", re.MULTILINE)
_MOCHA_FAILING = re.compile(r"^\s+(\d+) failing\s*$", re.MULTILINE)
_MOCHA_ENTRY = re.compile(r"^  (\d+)\) (.*)$")
# A failed hook: "before each" hook for "adds", "after all" hook in "{root}", named hooks too.
_MOCHA_HOOK = re.compile(r'^"(?:before|after) (each|all)" hook(?:: .*?)?(?: (?:for|in) "(.*)")?$')


def parse_mocha(text: str) -> TestReport | None:
    passing, failing_at = _MOCHA_PASSING.search(text), _MOCHA_FAILING.search(text)
    if passing is None and failing_at is None:
        return None
    failures = []
    tail = text[failing_at.end():].splitlines() if failing_at else []
    for m, body in _blocks(tail, _MOCHA_ENTRY.match, lambda _: False):
        title, rest = [m[2]], body
        while not title[-1].endswith(":") and rest and rest[0].strip():
            title, rest = [*title, rest[0].strip()], rest[1:]
        title[-1] = title[-1].removesuffix(":")
        failures.append(_Failure(SEP.join(_mocha_title([t.strip() for t in title])), None, rest))
    return _report("mocha", failures, int(passing[1]) if passing else 0,
                   _count(r"^\s+(\d+) pending\s*$", text) or 0,
                   expected=int(failing_at[1]) if failing_at else None)


def _mocha_title(title: list[str]) -> list[str]:
    """A hook's failure named as what it failed: an each-hook as the test it ran for, an
    all-hook as its suite (a root hook keeps its own title: there is no suite)."""
    hook = _MOCHA_HOOK.match(title[-1])
    if hook is None or (hook[1] == "all" and len(title) == 1):
        return title
    return [*title[:-1], hook[2]] if hook[1] == "each" and hook[2] else title[:-1] or title


# -- ava ---------------------------------------------------------------------------------------

_AVA_FAIL = re.compile(r"^  ✘ \[fail\]: (.+)$")
_AVA_SUMMARY = re.compile(r"^  \d+ (?:tests? (?:passed|failed|skipped)|uncaught exceptions?|"
                          r"known failures?|unhandled rejections?)\s*$", re.MULTILINE)
_AVA_FILE_FAIL = re.compile(r"^  (?:Uncaught exception in|Unhandled rejection in) (\S+)\s*$|"
                            r"^  ✘ (\S+) exited with a non-zero exit code")


def parse_ava(text: str) -> TestReport | None:
    if not _AVA_SUMMARY.search(text):
        return None
    lines = text.splitlines()
    raw = [m[1] for m in map(_AVA_FAIL.match, lines) if m]
    details = _ava_details(lines, raw)
    failures = [_Failure(_ava_name(r, details), None, details.get(_ava_name(r, details), []))
                for r in raw]
    for i, line in enumerate(lines):
        if (m := _AVA_FILE_FAIL.match(line)) is not None:
            file = m[1] or m[2]
            body = [] if m[2] else lines[i + 1:]
            end = next((j for j, ln in enumerate(body) if ln.startswith("  ✘") or ln == "  ─"),
                       len(body))
            failures.append(_Failure(file, file, body[:end]))
    return _report("ava", failures, sum(1 for ln in lines if ln.startswith("  ✔ ")),
                   sum(1 for ln in lines if re.match(r"^  - \[(?:skip|todo)\] ", ln)))


def _ava_details(lines: list[str], raw: list[str]) -> dict[str, list[str]]:
    """The failure details after "─": a title (a prefix of a "✘ [fail]:" line) and its body."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    after_rule = False
    for i, line in enumerate(lines):
        after_rule = after_rule or line == "  ─"
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        title = line[2:]
        if after_rule and line.startswith("  ") and not line.startswith("   ") and not nxt \
                and any(r == title or r.startswith(title + " ") for r in raw):
            out[title.replace(" › ", SEP)] = current = []
        elif line == "  ─":
            current = None
        elif current is not None:
            current.append(line)
    return out


def _ava_name(raw: str, details: dict[str, list[str]]) -> str:
    name = raw.replace(" › ", SEP)
    return max((t for t in details if name == t or name.startswith(t + " ")), key=len,
               default=name)


# -- uvu ---------------------------------------------------------------------------------------

_UVU_TOTAL = re.compile(r"^\s+Total:\s+(\d+)\s*$", re.MULTILINE)
_UVU_DONE = re.compile(r"^ \S.*?  (?:[•✘] ?)+\s*\(\d+ / \d+\)\s*$", re.MULTILINE)
_UVU_STARTED = re.compile(r"^ (\S.*?)  (?:[•✘] ?)*$")  # a suite the run never finished
_UVU_FAIL = re.compile(r'^\s+FAIL\s+(?:(\S.*?)\s+)?"(.+)"\s*$')
_UVU_FILE = re.compile(r"^(\S+\.[cm]?[jt]sx?)\s*$")


def parse_uvu(text: str) -> TestReport | None:
    if not _UVU_TOTAL.search(text) and not _UVU_DONE.search(text):
        return None
    lines = text.splitlines()
    failures: list[_Failure] = []
    file: str | None = None
    for line in lines:
        if (m := _UVU_FILE.match(line)) is not None:
            file = m[1]
        elif (m := _UVU_FAIL.match(line)) is not None:
            failures.append(_Failure(SEP.join(p for p in (m[1], m[2]) if p), file, []))
        elif failures and not line.strip().startswith(("Total:", "Passed:", "Skipped:")):
            failures[-1].lines.append(line)
    last = next((ln for ln in reversed(lines) if ln.strip()), "")
    unfinished = None if _UVU_TOTAL.search(text) else _UVU_STARTED.match(last)
    if unfinished is not None:
        failures.append(_Failure(unfinished[1].strip(), file, [
            "the run ended before this suite finished (killed at its time limit?)"]))
    passed = _count(r"^\s+Passed:\s+(\d+)", text)
    if passed is None:  # no summary: the suites that finished, test by test
        passed = sum(m[0].count("•") for m in _UVU_DONE.finditer(text))
    return _report("uvu", failures, passed, _count(r"^\s+Skipped:\s+(\d+)", text) or 0)


# -- playwright --------------------------------------------------------------------------------

_PW_RUNNING = re.compile(r"^Running \d+ tests? using \d+ workers?", re.MULTILINE)
_PW_TITLE = r"(?:\[([^\]]+)\] › )?(\S+?):\d+:\d+ › (.+?)(?: \(retry #\d+\))?\s*─*\s*$"
_PW_HEADER = re.compile(r"^\s+\d+\) " + _PW_TITLE)
_PW_LISTED = re.compile(r"^    " + _PW_TITLE)


def parse_playwright(text: str) -> TestReport | None:
    if not _PW_RUNNING.search(text):
        return None
    lines = text.splitlines()
    messages = {_pw_name(m): body for m, body in _blocks(
        lines, _PW_HEADER.match, lambda ln: bool(re.match(r"^\s+\d+ (?:failed|flaky)", ln)))}
    listed = _pw_listed(lines, "failed") + _pw_listed(lines, "interrupted")
    failing = listed or [(m[2], _pw_name(m)) for m in map(_PW_HEADER.match, lines) if m]
    failures = [_Failure(name, _relative(file), messages.get(name, [])) for file, name in failing]
    return _report("playwright", failures,
                   (_count(r"^\s+(\d+) (?:passed|flaky)\b", text) or 0),
                   _count(r"^\s+(\d+) (?:skipped|did not run)\b", text) or 0)


def _pw_name(m: re.Match[str]) -> str:
    return SEP.join(p for p in (m[1], m[3].replace(" › ", SEP)) if p)


def _pw_listed(lines: list[str], kind: str) -> list[tuple[str, str]]:
    """The tests under the summary's "N failed" (or "N interrupted") line."""
    start = next((i for i, ln in enumerate(lines) if re.match(rf"^\s+\d+ {kind}\s*$", ln)), None)
    out = []
    for line in lines[start + 1:] if start is not None else []:
        m = _PW_LISTED.match(line)
        if m is None:
            break
        out.append((m[2], _pw_name(m)))
    return out


# -- an uncaught error -------------------------------------------------------------------------

_ERROR = re.compile(r"^\s*(?:Exception during run: |Uncaught )?(?:[A-Z]\w*)?(?:Error|Exception)"
                    r"\b(?:: .*)?$")


def parse_crash(text: str) -> TestReport | None:
    """A run that died on an uncaught error: "failing" is the project file it was thrown in."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not _ERROR.match(line):
            continue
        frame = LOCATION.search(user_frame(lines[i + 1:i + 40]))
        if frame is not None:
            file = _relative(frame[1])
            return _report("crash", [_Failure(file, file, lines[i:i + 40])], None, None)
    return None


HUMAN: tuple[Callable[[str], TestReport | None], ...] = (
    parse_vitest, parse_jest, parse_playwright, parse_mocha, parse_ava, parse_uvu)
