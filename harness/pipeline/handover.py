"""What one attempt hands the next: the work so far as the host sees it, and what was said.

A model that starts a retry, a later sub-ticket, a diagnosis or a review sees the workspace only
through its tools; without a diff made on the host it re-reads every file to learn what its
predecessor changed, and a diff cut without a word reads as the whole change. So every hand-off
carries a diffstat (every changed file, even when the diff itself is cut), the diff up to a limit
with a marker naming what was left out, and the previous attempt's own summary.
"""

from __future__ import annotations

import re

from harness.config.schema import SandboxConfig
from harness.pipeline.agent import AgentOutcome
from harness.sandbox.testrun import TestRun

_FILE = re.compile(r"^diff --git a/(.*?) b/(.*)$", re.M)


def diffstat(diff: str) -> list[tuple[str, int, int]]:
    """(path, lines added, lines removed) per file of a ``git diff``."""
    stats: list[tuple[str, int, int]] = []
    path, added, removed = "", 0, 0
    for line in diff.splitlines():
        m = _FILE.match(line)
        if m:
            if path:
                stats.append((path, added, removed))
            path, added, removed = m.group(2), 0, 0
        elif line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    if path:
        stats.append((path, added, removed))
    return stats


def diff_section(title: str, diff: str, limit: int) -> str:
    """``## title``: the diffstat, then the diff up to ``limit`` characters, cut at a line and
    marked with what was left out."""
    if not diff.strip():
        return f"## {title}\n(no change: the workspace is at the base commit)"
    stats = diffstat(diff)
    stat = "\n".join(f"  {p} | +{a} -{r}" for p, a, r in stats)
    shown = diff if len(diff) <= limit else diff[:diff.rfind("\n", 0, limit) + 1]
    mark = ""
    if len(shown) < len(diff):
        whole = len(_FILE.findall(shown)) - 1  # the last file shown is the one cut
        left = [p for p, _, _ in stats[max(whole, 0):]]
        mark = (f"[... the diff is cut here: {len(diff) - len(shown):,} more characters"
                f"{' in ' + ', '.join(left[:20]) if left else ''}; read those files for the "
                "rest ...]\n")
    return (f"## {title}\n{len(stats)} file(s) changed:\n{stat}\n\n```diff\n{shown}{mark}```")


def summary_of(out: AgentOutcome) -> str | None:
    """The summary a finished attempt gave (its ``finish`` or final text)."""
    text = getattr(out.result, "summary", None) or out.text
    return str(text).strip()[:4000] or None if text else None


def failure(out: AgentOutcome) -> str:
    """Why an attempt failed, for the record and the next attempt's prompt; says so when no
    test ran (a timeout or a failed call is not the tests failing)."""
    what = {"timed_out": "the attempt timed out before it finished; no tests ran",
            "turn_limit": "it ran out of turns before it finished; no tests ran",
            "error": "the model call failed; no tests ran", "no_result": "no result",
            }.get(out.outcome, out.outcome)
    return f"{what}: {out.detail}" if out.detail else what


def tests_passed(target: tuple[str, ...]) -> str:
    """What the Reviewer is told of the tests (it runs only after they all passed)."""
    named = f" and the target tests ({', '.join(target[:20])})" if target else ""
    return f"The full test suite{named} passed after this change."


def test_output(run: TestRun) -> str:
    """A test run as kept in the run directory's tests/."""
    r = run.result
    return f"{r.summary()}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}\n"


def checks_section(cfg: SandboxConfig, target: tuple[str, ...], whole_ticket: bool) -> str:
    """How the Coder's work will be judged, so it can check it the same way first."""
    if cfg.test_command is None:
        return ""
    if not whole_ticket:
        bar = ("this sub-ticket is judged on no new failures (a test that passed at the base "
               "commit must still pass); the ticket's target tests may need a later sub-ticket")
    elif target:
        bar = ("these target tests must pass: " + ", ".join(target[:30])
               + ", and no test that passed at the base commit may fail")
    else:
        bar = "no test that passed at the base commit may fail, and the change must not be empty"
    related = (f"`{cfg.affected_test_command}` on the changed files" if
               cfg.affected_test_command else "the runner's tests related to the changed files")
    return ("## How your change is checked\n"
            f"When you finish, the harness runs the tests in /workspace: {related} on a retry, "
            f"and the full suite `{cfg.test_command}`; {bar}. Tests that already failed at the "
            "base commit are not held against you. Call `run_tests` to get this verdict "
            "yourself before you finish.")
