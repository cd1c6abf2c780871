"""Turns what a test command printed inside the sandbox into a typed summary for the Coder's retry.

Tried from the most to the least structured: JUnit XML, vitest/jest JSON, TAP, node's spec reporter,
else "raw". Counts are recomputed from the individual results, not copied from a runner's summary,
so ``failed == len(failing)`` and one run reads the same whichever reporter printed it: a suite or
parent test counts only when it failed on its own (a hook, a file that would not load)."""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

ReportFormat = Literal["junit", "tap", "vitest-json", "jest-json", "node-test", "raw"]

SEP = " > "
MESSAGE_MAX_LINES = 12
LINE_MAX_CHARS = 300
_NO_FILES: Mapping[str, str] = MappingProxyType({})

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# A JS stack frame: V8's "at f (file:1:2)" or "at new Promise (<anonymous>)"; vitest's "❯ f:1:2".
_FRAME = re.compile(r"^(?:at \S.*(?:\)|:\d+)|❯ .*:\d+:\d+)\s*\{?$")
_LOCATION = re.compile(r"(?:file://)?([^\s()]+?):\d+(?::\d+)?\)?$")
_SOURCE_FILE = re.compile(r"^\S+\.(?:[cm]?[jt]sx?|py|rb|go|rs|java|kt|php|cs)$")


@dataclass(frozen=True)
class FailingTest:
    name: str  # nested titles joined with " > ", e.g. "math > nested > multiplies"
    file: str | None
    message: str  # at most MESSAGE_MAX_LINES, then the first frame in the project's own code


@dataclass(frozen=True)
class TestReport:
    __test__ = False  # not a pytest test class, despite the name

    format: ReportFormat
    passed: int | None
    failed: int | None
    skipped: int | None
    failing: tuple[FailingTest, ...] = ()

    def feedback(self, raw: str, limit: int = 8000) -> str:
        """Failing names, then their messages, then the output's tail, in ``limit`` characters. The
        tail keeps a quarter of them however long the rest: a runner's last words often matter."""
        raw = _clean(raw).strip("\n")
        title = "\nOutput (tail):\n" if raw else ""
        reserve = min(len(raw), limit // 4) + len(title)
        head = _cut(self._head(), limit - reserve, keep="start", what="failure details")
        tail = _cut(raw, limit - len(head) - len(title), keep="end", what="earlier output")
        return (head + title + tail)[:limit]

    def _head(self) -> str:
        if self.format == "raw":
            exited = " The command exited 0." if self.failed == 0 else ""
            return f"No test report could be parsed from the output.{exited}\n"
        n = [("?" if c is None else str(c)) for c in (self.passed, self.failed, self.skipped)]
        lines = [f"Test results ({self.format}): {n[0]} passed, {n[1]} failed, {n[2]} skipped."]
        if self.failing:
            lines += ["", f"Failing tests ({len(self.failing)}):"]
            lines += [f"- {t.name}" + (f"  [{t.file}]" if t.file else "") for t in self.failing]
            lines += ["", "Failures:"]
            for t in self.failing:
                lines += ["", f"✖ {t.name}", textwrap.indent(t.message or "(no message)", "  ")]
        return "\n".join(lines) + "\n"


def parse_test_output(stdout: str, stderr: str, exit_code: int, *,
                      report_files: Mapping[str, str] = _NO_FILES) -> TestReport:
    """The report for one test command, from the first format that recognises its output."""
    stdout, stderr = _clean(stdout), _clean(stderr)
    files = {name: _clean(text) for name, text in sorted(report_files.items())}
    found = (r for r in _attempts(stdout, stderr, files) if r is not None)
    return next(found, None) or TestReport("raw", None, 0 if exit_code == 0 else None, None)


def _attempts(stdout: str, stderr: str, files: dict[str, str]) -> Iterator[TestReport | None]:
    # Report files are what the runner meant to write; XML in stdout is read only without them,
    # since a runner that writes both would otherwise be counted twice.
    yield _parse_junit(t for n, t in files.items() if n.lower().endswith(".xml"))
    yield _parse_junit(x for x in [_xml_in(stdout)] if x is not None)
    for text in [*(t for n, t in files.items() if n.lower().endswith(".json")), stdout, stderr]:
        yield _parse_json(text)
    for text in (stdout, stderr):
        yield _parse_tap(text)
        yield _parse_spec(text)


def _clean(text: str) -> str:
    return _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def _cut(text: str, budget: int, *, keep: Literal["start", "end"], what: str) -> str:
    if len(text) <= budget:
        return text
    note = "[… {} characters of " + what + " cut …]\n"
    # Sized with the largest count this text can give, so the note never breaks the budget.
    room = max(0, budget - len(note.format(len(text))) - 1)
    if keep == "start":
        kept = text[:room].rsplit("\n", 1)[0] if "\n" in text[:room] else text[:room]
        return (kept + "\n" + note.format(len(text) - len(kept)))[:max(budget, 0)]
    kept = text[len(text) - room:]
    kept = kept.split("\n", 1)[1] if "\n" in kept[:-1] else kept  # start on a whole line
    return (note.format(len(text) - len(kept)) + kept)[-max(budget, 1):]


def _user_frame(lines: list[str]) -> str:
    """The first stack frame in the project's own code: where to look first."""
    frames = (line.strip().removesuffix("{").rstrip() for line in lines)
    return next((f for f in frames if _FRAME.match(f) and _LOCATION.search(f)
                 and "node:" not in f and "node_modules" not in f), "")


def _trim_message(text: str) -> str:
    """The lines before the stack and its first frame in the project's own code; the rest of a
    stack is runtime internals, and what follows it an inspect() dump or a repeated cause."""
    lines = _clean(text).splitlines()
    first_frame = next((i for i, ln in enumerate(lines) if _FRAME.match(ln.strip())), len(lines))
    kept = [ln.rstrip()[:LINE_MAX_CHARS] for ln in lines[:first_frame] if ln.strip()]
    out = textwrap.dedent("\n".join(kept[:MESSAGE_MAX_LINES])).splitlines()
    out += ["…"] if len(kept) > MESSAGE_MAX_LINES else []
    return "\n".join([*out, frame] if (frame := _user_frame(lines)) else out)


def _location_file(location: str) -> str:
    return re.sub(r":\d+(?::\d+)?$", "", location.removeprefix("file://"))


@dataclass
class _Node:
    """One test while a report is read; every format becomes a tree of these."""
    name: str
    status: Literal["pass", "fail", "skip"] = "pass"
    own: bool = False  # failed for a reason of its own, not only because a subtest failed
    file: str | None = None
    message: str = ""
    children: list[_Node] = field(default_factory=list)


def _tree_report(fmt: ReportFormat, roots: list[_Node]) -> TestReport:
    counts = {"pass": 0, "skip": 0}
    failing: list[FailingTest] = []

    def has_failure(node: _Node) -> bool:
        return any(c.status == "fail" or has_failure(c) for c in node.children)

    def walk(nodes: list[_Node], prefix: str) -> None:
        for n in nodes:
            if n.status == "fail" and (n.own or not has_failure(n)):
                failing.append(FailingTest(prefix + n.name, n.file, n.message))
            elif not n.children and n.status != "fail":
                counts[n.status] += 1
            walk(n.children, prefix + n.name + SEP)

    walk(roots, "")
    return TestReport(fmt, counts["pass"], len(failing), counts["skip"], tuple(failing))


# Comments and CDATA may quote a DOCTYPE harmlessly (a test of an HTML page); outside them any
# DTD is refused, as entity expansion ("billion laughs") and external entities both need one.
_XML_INERT = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>", re.DOTALL)
_XML_DTD = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_START = re.compile(r"<\?xml|<testsuites?\b")
_XML_DOC = re.compile(r".*</testsuites?>", re.DOTALL)  # greedy: up to the last closing tag


def _safe_xml(text: str) -> ET.Element | None:
    try:
        return None if _XML_DTD.search(_XML_INERT.sub("", text)) else ET.fromstring(text)
    except (ET.ParseError, ValueError):
        return None


def _xml_in(text: str) -> str | None:
    """The JUnit document in stdout, without what a wrapper (npm run) printed around it."""
    start = _XML_START.search(text)
    doc = _XML_DOC.match(text, start.start()) if start else None
    return doc[0] if doc else None


def _parse_junit(texts: Iterable[str]) -> TestReport | None:
    roots = [r for r in map(_safe_xml, texts) if r is not None and r.tag.startswith("testsuite")]
    nodes: list[_Node] = []
    for root in roots:
        _junit_walk([root] if root.tag == "testsuite" else list(root), nodes, [], None)
    return _tree_report("junit", nodes) if roots else None


def _junit_walk(els: list[ET.Element], out: list[_Node], path: list[str], file: str | None) -> None:
    for el in els:
        name = el.get("name", "").strip()
        if el.tag == "testsuite" and _SOURCE_FILE.match(name):  # vitest: one suite per file
            _junit_walk(list(el), out, path, el.get("file") or file or name)
        elif el.tag == "testsuite":
            _junit_walk(list(el), out, [*path, name] if name else path, el.get("file") or file)
        elif el.tag == "testcase":
            out.append(_junit_case(el, name, path, file))


def _junit_case(case: ET.Element, name: str, path: list[str], file: str | None) -> _Node:
    # jest-junit and vitest already put the suite titles in the case name; not twice.
    prefix = [p for p in path if not name.startswith(p)]
    classname = case.get("classname", "")
    node = _Node(SEP.join([*prefix, name]),
                 file=case.get("file") or (classname if _SOURCE_FILE.match(classname) else file))
    problem = next((p for p in case if p.tag in ("failure", "error")), None)
    if problem is not None:
        body, attr = (problem.text or "").strip(), problem.get("message", "").strip()
        if attr and re.sub(r"\s+", "", attr) not in re.sub(r"\s+", "", body):
            body = f"{attr}\n{body}"
        node.status, node.own, node.message = "fail", True, _trim_message(body)
        frame = _LOCATION.search(_user_frame(body.splitlines()))
        node.file = node.file or (frame[1] if frame else None)
    elif case.find("skipped") is not None:
        node.status = "skip"
    return node


def _find_report_json(text: str) -> dict[str, Any] | None:
    pos = text.find('"numFailedTests"')
    decoder = json.JSONDecoder()
    for _ in range(64 if pos >= 0 else 0):  # the key is near the top: walk back over braces
        pos = text.rfind("{", 0, pos)
        try:
            obj = decoder.raw_decode(text, pos)[0] if pos >= 0 else None
        except ValueError:
            continue
        if obj is None or (isinstance(obj, dict) and isinstance(obj.get("testResults"), list)):
            return obj
    return None


def _parse_json(text: str) -> TestReport | None:
    data = _find_report_json(text)
    if data is None:
        return None
    jest_only = ("numRuntimeErrorTestSuites", "openHandles", "wasInterrupted")
    fmt: ReportFormat = "jest-json" if any(k in data for k in jest_only) else "vitest-json"
    nodes: list[_Node] = []
    for suite in (s for s in data["testResults"] if isinstance(s, dict)):
        file = suite["name"] if isinstance(suite.get("name"), str) else None
        tests = [t for t in suite.get("assertionResults") or [] if isinstance(t, dict)]
        for test in tests:
            titles = [*(test.get("ancestorTitles") or []), test.get("title") or ""]
            node = _Node(SEP.join(map(str, titles)) if test.get("title") else
                         str(test.get("fullName") or "?"), file=file)
            status = test.get("status")
            node.status = "pass" if status == "passed" else "fail" if status == "failed" else "skip"
            node.message = _trim_message("\n".join(map(str, test.get("failureMessages") or [])))
            nodes.append(node)
        # A file that never ran its tests (import or syntax error) fails as a whole.
        if suite.get("status") == "failed" and suite.get("message") and not any(
                t.get("status") == "failed" for t in tests):
            nodes.append(_Node(file or "?", "fail", True, file, _trim_message(suite["message"])))
    return _tree_report(fmt, nodes)


_TAP_VERSION = re.compile(r"^\s*TAP version 1[34]\s*$", re.MULTILINE)
_TAP_PLAN = re.compile(r"^\s*1\.\.\d+", re.MULTILINE)
_TAP_POINT = re.compile(r"^( *)(not ok|ok)\b(?:\s+\d+)?(?:\s+-)?\s*(.*)$")
_TAP_DIRECTIVE = re.compile(r"(?<!\\)#\s*(SKIP|TODO)\b.*$", re.IGNORECASE)
_YAML_KEY = re.compile(r"^( *)([A-Za-z_][\w-]*):(?: +(.*))?$")


def _parse_tap(text: str) -> TestReport | None:
    version = _TAP_VERSION.search(text)
    if version is None and not (_TAP_PLAN.search(text) and re.search(r"^\s*ok\b", text, re.M)):
        return None
    lines = text[version.start() if version else 0:].splitlines()
    pending: dict[int, list[_Node]] = {}  # by indent: tests not yet claimed by a parent
    comments: list[str] = []  # diagnostics since the last test: a crashed file's stderr
    i = 0
    while i < len(lines):
        m = _TAP_POINT.match(lines[i])
        i += 1
        if m is None:
            if (comment := lines[i - 1].strip()).startswith("#") and "# Subtest:" not in comment:
                comments.append(comment[1:].removeprefix(" "))
            continue
        directive = _TAP_DIRECTIVE.search(m[3])
        desc = m[3][:directive.start()] if directive else m[3]
        node = _Node(desc.strip().replace("\\#", "#").replace("\\\\", "\\"))
        node.children = pending.pop(len(m[1]) + 4, [])  # TAP 14 indents subtests by 4 spaces
        node.status = "skip" if directive else "pass" if m[2] == "ok" else "fail"
        info: dict[str, str] = {}
        if i < len(lines) and lines[i].strip() == "---":
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "..."), i)
            info, i = _yaml_scalars(lines[i + 1:end]), end + 1
        if node.status == "fail":
            _tap_failure(node, info, comments)
        pending.setdefault(len(m[1]), []).append(node)
        comments = []
    return _tree_report("tap", [n for indent in sorted(pending) for n in pending[indent]])


def _tap_failure(node: _Node, info: dict[str, str], comments: list[str]) -> None:
    error = info.get("error", "")
    node.own = bool(error) and info.get("failureType") != "subtestsFailed"
    node.file = _location_file(info["location"]) if info.get("location") else None
    parts = [error]
    # A custom assertion message hides the values; node's own multi-line message shows them.
    if "\n" not in error and "expected" in info and "actual" in info:
        parts += [f"expected: {info['expected']}", f"actual: {info['actual']}"]
    if "exitCode" in info:  # a whole file's process failed: the stderr before it says why
        parts += comments
    parts += [f"at {frame}" for frame in info.get("stack", "").splitlines()]
    node.message = _trim_message("\n".join(parts))


def _yaml_scalars(block: list[str]) -> dict[str, str]:
    """The top-level scalars of node's YAML diagnostics: just enough YAML, and no library."""
    out: dict[str, str] = {}
    base = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
    i = 0
    while i < len(block):
        m = _YAML_KEY.match(block[i])
        i += 1
        value = (m[3] or "").strip() if m and len(m[1]) == base else ""
        if m is None or not value or value == "~":
            continue
        if value[0] in "|>":  # node writes multi-line strings as literal blocks
            start = i
            while i < len(block) and (not block[i].strip() or block[i][:base + 1].isspace()):
                i += 1
            out[m[2]] = textwrap.dedent("\n".join(block[start:i])).strip("\n")
        elif len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            out[m[2]] = value[1:-1].replace("''", "'") if value[0] == "'" else value[1:-1]
        else:
            out[m[2]] = value
    return out


# Name, then duration, then directive; a name may hold " # ", so it is cut at the last duration.
_SPEC_MARK = re.compile(r"^( *)([▶✔✖﹣]) (.*?)(?: \(\d+(?:\.\d+)?m?s\)(?: # (.*))?)?$")
_SPEC_SUMMARY = re.compile(r"^ℹ (tests|pass) \d+\s*$", re.MULTILINE)
_SPEC_FAILING = re.compile(r"^✖ failing tests:\s*$", re.MULTILINE)


def _parse_spec(text: str) -> TestReport | None:
    failing_at = _SPEC_FAILING.search(text)
    if len(set(_SPEC_SUMMARY.findall(text))) < 2 and not failing_at:
        return None
    roots, failed = _spec_tree(text[:failing_at.start()] if failing_at else text)
    files: dict[str, list[str]] = {}  # the closing list says where each failure is; the tree not
    where: str | None = None
    for line in text[failing_at.end():].splitlines() if failing_at else []:
        if line.startswith("test at "):
            where = _location_file(line.removeprefix("test at ").strip())
        elif (m := _SPEC_MARK.match(line)) and where is not None:
            files.setdefault(m[3], []).append(where)
            where = None
    for node in failed:  # both in the order the tests finished: a parent after its children
        node.file = files[node.name].pop(0) if files.get(node.name) else None
    return _tree_report("node-test", roots)


def _spec_tree(text: str) -> tuple[list[_Node], list[_Node]]:
    """The tests as a tree, and the failed ones in the order they are printed."""
    roots: list[_Node] = []
    open_suites: list[_Node] = []  # by depth: "▶ name" lines whose closing line is to come
    failures: list[tuple[_Node, list[str]]] = []  # each failed test and its message lines
    at_indent = -1  # the indent of the failed test whose message lines follow, if any
    for line in text.splitlines():
        m = _SPEC_MARK.match(line)
        if m is None:
            if at_indent >= 0 and (not line.strip() or len(line) - len(line.lstrip()) > at_indent):
                failures[-1][1].append(line)
            else:
                at_indent = -1
            continue
        depth, mark, name = len(m[1]) // 2, m[2], m[3]
        if depth < len(open_suites) and open_suites[depth].name == name and mark != "▶":
            node = open_suites[depth]  # the closing line of a suite or of a test with subtests
        else:
            siblings = open_suites[depth - 1].children if 0 < depth <= len(open_suites) else roots
            siblings.append(node := _Node(name))
        del open_suites[depth:]
        at_indent = -1
        if mark == "▶":
            open_suites.append(node)
            continue
        # Skips print "﹣"; a todo keeps its pass/fail mark and adds "# TODO" or its reason.
        skip = mark == "﹣" or m[4] is not None
        node.status = "skip" if skip else "pass" if mark == "✔" else "fail"
        if node.status == "fail":
            failures.append((node, []))
            at_indent = len(m[1])
    for node, message in failures:
        node.message = _trim_message("\n".join(message))
        node.own = bool(node.message)
    return roots, [node for node, _ in failures]
