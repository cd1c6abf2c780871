"""The structured formats a test command may print or write: JUnit XML, vitest/jest JSON, TAP
(node's and node-tap's), node's spec reporter. Each becomes a tree of ``Node``s."""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from harness.sandbox.testresults import (
    LOCATION,
    SEP,
    SOURCE_FILE,
    Node,
    ReportFormat,
    TestReport,
    location_file,
    tree_report,
    trim_message,
    user_frame,
)

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


def xml_in(text: str) -> str | None:
    """The JUnit document in stdout, without what a wrapper (npm run) printed around it."""
    start = _XML_START.search(text)
    doc = _XML_DOC.match(text, start.start()) if start else None
    return doc[0] if doc else None


def parse_junit(texts: Iterable[str]) -> TestReport | None:
    roots = [r for r in map(_safe_xml, texts) if r is not None and r.tag.startswith("testsuite")]
    nodes: list[Node] = []
    for root in roots:
        _junit_walk([root] if root.tag == "testsuite" else list(root), nodes, [], None)
    return tree_report("junit", nodes) if roots else None


def _junit_walk(els: list[ET.Element], out: list[Node], path: list[str], file: str | None) -> None:
    for el in els:
        name = el.get("name", "").strip()
        if el.tag == "testsuite" and SOURCE_FILE.match(name):  # vitest: one suite per file
            _junit_walk(list(el), out, path, el.get("file") or file or name)
        elif el.tag == "testsuite":
            _junit_walk(list(el), out, [*path, name] if name else path, el.get("file") or file)
        elif el.tag == "testcase":
            out.append(_junit_case(el, name, path, file))


def _junit_case(case: ET.Element, name: str, path: list[str], file: str | None) -> Node:
    # jest-junit and vitest already put the suite titles in the case name; not twice.
    prefix = [p for p in path if not name.startswith(p)]
    classname = case.get("classname", "")
    node = Node(SEP.join([*prefix, name]),
                 file=case.get("file") or (classname if SOURCE_FILE.match(classname) else file))
    problem = next((p for p in case if p.tag in ("failure", "error")), None)
    if problem is not None:
        body, attr = (problem.text or "").strip(), problem.get("message", "").strip()
        if attr and re.sub(r"\s+", "", attr) not in re.sub(r"\s+", "", body):
            body = f"{attr}\n{body}"
        node.status, node.own, node.message = "fail", True, trim_message(body)
        frame = LOCATION.search(user_frame(body.splitlines()))
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


def parse_json(text: str) -> TestReport | None:
    data = _find_report_json(text)
    if data is None:
        return None
    jest_only = ("numRuntimeErrorTestSuites", "openHandles", "wasInterrupted")
    fmt: ReportFormat = "jest-json" if any(k in data for k in jest_only) else "vitest-json"
    nodes: list[Node] = []
    for suite in (s for s in data["testResults"] if isinstance(s, dict)):
        file = suite["name"] if isinstance(suite.get("name"), str) else None
        tests = [t for t in suite.get("assertionResults") or [] if isinstance(t, dict)]
        for test in tests:
            titles = [*(test.get("ancestorTitles") or []), test.get("title") or ""]
            node = Node(SEP.join(map(str, titles)) if test.get("title") else
                         str(test.get("fullName") or "?"), file=file)
            status = test.get("status")
            node.status = "pass" if status == "passed" else "fail" if status == "failed" else "skip"
            node.message = trim_message("\n".join(map(str, test.get("failureMessages") or [])))
            nodes.append(node)
        # A file that never ran its tests (import or syntax error) fails as a whole.
        if suite.get("status") == "failed" and suite.get("message") and not any(
                t.get("status") == "failed" for t in tests):
            nodes.append(Node(file or "?", "fail", True, file, trim_message(suite["message"])))
    return tree_report(fmt, nodes)


_TAP_VERSION = re.compile(r"^\s*TAP version 1[34]\s*$", re.MULTILINE)
_TAP_PLAN = re.compile(r"^\s*1\.\.\d+", re.MULTILINE)
_TAP_POINT = re.compile(r"^( *)(not ok|ok)\b(?:\s+\d+)?(?:\s+-)?\s*(.*)$")
_TAP_DIRECTIVE = re.compile(r"(?<!\\)#\s*(SKIP|TODO)\b.*$", re.IGNORECASE)
_TAP_TIME = re.compile(r"\s*(?<!\\)#\s*time=\d+(?:\.\d+)?m?s\s*$")  # node-tap's timing
_YAML_KEY = re.compile(r"^( *)([A-Za-z_][\w-]*):(?: +(.*))?$")


def parse_tap(text: str) -> TestReport | None:
    version = _TAP_VERSION.search(text)
    if version is None and not (_TAP_PLAN.search(text) and re.search(r"^\s*ok\b", text, re.M)):
        return None
    lines = text[version.start() if version else 0:].splitlines()
    pending: dict[int, list[Node]] = {}  # by indent: tests not yet claimed by a parent
    comments: list[str] = []  # diagnostics since the last test: a crashed file's stderr
    i = 0
    while i < len(lines):
        m = _TAP_POINT.match(lines[i])
        i += 1
        if m is None:
            if (comment := lines[i - 1].strip()).startswith("#") and "# Subtest:" not in comment:
                comments.append(comment[1:].removeprefix(" "))
            continue
        text = _TAP_TIME.sub("", m[3])
        directive = _TAP_DIRECTIVE.search(text)
        desc = text[:directive.start()] if directive else text
        node = Node(desc.strip().replace("\\#", "#").replace("\\\\", "\\"))
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
    return tree_report("tap", [n for indent in sorted(pending) for n in pending[indent]])


def _tap_failure(node: Node, info: dict[str, str], comments: list[str]) -> None:
    error = info.get("error", "")
    node.own = bool(error) and info.get("failureType") != "subtestsFailed"
    node.file = location_file(info["location"]) if info.get("location") else None
    parts = [error]
    # A custom assertion message hides the values; node's own multi-line message shows them.
    if "\n" not in error and "expected" in info and "actual" in info:
        parts += [f"expected: {info['expected']}", f"actual: {info['actual']}"]
    if "wanted" in info and "found" in info:  # node-tap before 16
        parts += [f"wanted: {info['wanted']}", f"found: {info['found']}"]
    if "diff" in info:  # node-tap's comparison, as a unified diff
        parts += [info["diff"]]
    if "expired" in info:  # node-tap: the test named here ran out of time
        parts += [f"timed out: {info['expired']}" + (f" after {info['timeout']} ms"
                                                      if "timeout" in info else "")]
    if "exitCode" in info:  # a whole file's process failed: the stderr before it says why
        parts += comments
    parts += [f"at {frame}" for frame in info.get("stack", "").splitlines()]
    node.message = trim_message("\n".join(parts))
    frame = LOCATION.search(user_frame(node.message.splitlines()))
    node.file = node.file or (location_file(frame[1]) if frame else None)


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


def parse_spec(text: str) -> TestReport | None:
    failing_at = _SPEC_FAILING.search(text)
    if len(set(_SPEC_SUMMARY.findall(text))) < 2 and not failing_at:
        return None
    roots, failed = _spec_tree(text[:failing_at.start()] if failing_at else text)
    # The closing list says where each failure is (the tree does not), and from node 22 on it is
    # the only place that has the messages.
    listed: dict[str, list[tuple[str, list[str]]]] = {}
    where: str | None = None
    message: list[str] = []
    for line in text[failing_at.end():].splitlines() if failing_at else []:
        if line.startswith("test at "):
            where = location_file(line.removeprefix("test at ").strip())
        elif (m := _SPEC_MARK.match(line)) and where is not None:
            listed.setdefault(m[3], []).append((where, message := []))
            where = None
        else:
            message.append(line)
    for node in failed:  # both in the order the tests finished: a parent after its children
        file, lines = listed[node.name].pop(0) if listed.get(node.name) else (None, [])
        node.file = file
        said = trim_message("\n".join(lines))
        if said and said not in node.message:
            node.message = trim_message(f"{node.message}\n{said}" if node.message else said)
            node.own = True
    return tree_report("node-test", roots)


def _spec_tree(text: str) -> tuple[list[Node], list[Node]]:
    """The tests as a tree, and the failed ones in the order they are printed."""
    roots: list[Node] = []
    open_suites: list[Node] = []  # by depth: "▶ name" lines whose closing line is to come
    failures: list[tuple[Node, list[str]]] = []  # each failed test and its message lines
    at_indent = -1  # the indent of the failed test whose message lines follow, if any
    loose: list[str] = []  # lines of no test: what a file's process printed before it failed
    for line in text.splitlines():
        m = _SPEC_MARK.match(line)
        if m is None:
            if at_indent >= 0 and (not line.strip() or len(line) - len(line.lstrip()) > at_indent):
                failures[-1][1].append(line)
            else:
                at_indent = -1
                loose.append(line)
            continue
        depth, mark, name = len(m[1]) // 2, m[2], m[3]
        if depth < len(open_suites) and open_suites[depth].name == name and mark != "▶":
            node = open_suites[depth]  # the closing line of a suite or of a test with subtests
        else:
            siblings = open_suites[depth - 1].children if 0 < depth <= len(open_suites) else roots
            siblings.append(node := Node(name))
        del open_suites[depth:]
        at_indent = -1
        if mark == "▶":
            open_suites.append(node)
            continue
        # Skips print "﹣"; a todo keeps its pass/fail mark and adds "# TODO" or its reason.
        skip = mark == "﹣" or m[4] is not None
        node.status = "skip" if skip else "pass" if mark == "✔" else "fail"
        if node.status == "fail":
            failures.append((node, loose if depth == 0 else []))
            at_indent = len(m[1])
        loose = []
    for node, message in failures:
        node.message = trim_message("\n".join(message))
        node.own = bool(node.message)
    return roots, [node for node, _ in failures]
