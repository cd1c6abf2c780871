"""What a test command's output says, as a typed summary for the Coder's retry: the types, and
the helpers every output format shares (a tree of tests read from any format, messages trimmed to
what helps). Counts are recomputed from the individual results, not copied from a runner's
summary, wherever the output lists them: ``failed == len(failing)`` always, and a suite or parent
test counts only when it failed on its own (a hook, a file that would not load)."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Literal

ReportFormat = Literal["junit", "tap", "vitest-json", "jest-json", "node-test", "vitest", "jest",
                       "mocha", "ava", "uvu", "playwright", "crash", "raw"]

SEP = " > "
WORKSPACE = "/workspace/"  # where the sandbox mounts the worktree
MESSAGE_MAX_LINES = 12
LINE_MAX_CHARS = 300
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# A JS stack frame: V8's "at f (file:1:2)", "at new Promise (<anonymous>)"; vitest's "❯ f:1:2";
# ava's "› file://f:1:2".
FRAME = re.compile(r"^(?:at \S.*(?:\)|:\d+)|[❯›] .*:\d+:\d+)\s*\{?$")
LOCATION = re.compile(r"(?:file://)?([^\s()]+?):\d+(?::\d+)?\)?$")
SOURCE_FILE = re.compile(r"^\S+\.(?:[cm]?[jt]sx?|py|rb|go|rs|java|kt|php|cs)$")


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
    passing: tuple[str, ...] = ()  # names of the tests that passed, where the output lists them

    def feedback(self, raw: str, limit: int = 8000) -> str:
        """Failing names, then their messages, then the output's tail, in ``limit`` characters. The
        tail keeps a quarter of them however long the rest: a runner's last words often matter."""
        raw = clean(raw).strip("\n")
        title = "\nOutput (tail):\n" if raw else ""
        reserve = min(len(raw), limit // 4) + len(title)
        head = cut(self._head(), limit - reserve, keep="start", what="failure details")
        tail = cut(raw, limit - len(head) - len(title), keep="end", what="earlier output")
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



def clean(text: str) -> str:
    return ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def cut(text: str, budget: int, *, keep: Literal["start", "end"], what: str) -> str:
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


def user_frame(lines: list[str]) -> str:
    """The first stack frame in the project's own code: where to look first."""
    frames = (line.strip().removesuffix("{").rstrip() for line in lines)
    return next((f for f in frames if FRAME.match(f) and LOCATION.search(f)
                 and "node:" not in f and "node_modules" not in f), "")


def trim_message(text: str) -> str:
    """The lines before the stack and its first frame in the project's own code; the rest of a
    stack is runtime internals, and what follows it an inspect() dump or a repeated cause."""
    lines = clean(text).splitlines()
    first_frame = next((i for i, ln in enumerate(lines) if FRAME.match(ln.strip())), len(lines))
    kept = [ln.rstrip()[:LINE_MAX_CHARS] for ln in lines[:first_frame] if ln.strip()]
    out = textwrap.dedent("\n".join(kept[:MESSAGE_MAX_LINES])).splitlines()
    out += ["…"] if len(kept) > MESSAGE_MAX_LINES else []
    return "\n".join([*out, frame] if (frame := user_frame(lines)) else out)


def location_file(location: str) -> str:
    """A frame's or a location's file, relative to the worktree when it is inside it."""
    path = re.sub(r":\d+(?::\d+)?$", "", location.removeprefix("file://"))
    return path.removeprefix(WORKSPACE)


@dataclass
class Node:
    """One test while a report is read; every format becomes a tree of these."""
    name: str
    status: Literal["pass", "fail", "skip"] = "pass"
    own: bool = False  # failed for a reason of its own, not only because a subtest failed
    file: str | None = None
    message: str = ""
    children: list[Node] = field(default_factory=list)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def test_name(name: str) -> str:
    """A name as every format can carry it: XML has no control characters, so none here."""
    return _CONTROL.sub("", name)


def tree_report(fmt: ReportFormat, roots: list[Node]) -> TestReport:
    counts = {"pass": 0, "skip": 0}
    failing: list[FailingTest] = []
    passing: list[str] = []

    def has_failure(node: Node) -> bool:
        return any(c.status == "fail" or has_failure(c) for c in node.children)

    def walk(nodes: list[Node], prefix: str) -> None:
        for n in nodes:
            if n.status == "fail" and (n.own or not has_failure(n)):
                failing.append(FailingTest(test_name(prefix + n.name), n.file, n.message))
            elif not n.children and n.status != "fail":
                counts[n.status] += 1
                if n.status == "pass":
                    passing.append(test_name(prefix + n.name))
            walk(n.children, prefix + n.name + SEP)

    walk(roots, "")
    return TestReport(fmt, counts["pass"], len(failing), counts["skip"], tuple(failing),
                      tuple(passing))


