"""The ticket's target tests, run as committed at the base commit.

A change that makes the target tests pass by editing them (an assertion loosened, a test skipped,
its expectation rewritten to what the code does) is not a fix, and the suite alone cannot tell:
the edited test passes. So when a change edits test files that existed at the base commit and the
run has target tests, the suite runs once more with the change minus those edits, and the target
tests must pass there too. Other tests in those files may fail there (a behaviour the ticket
changes can make an old expectation wrong): only the target is judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.config.schema import SandboxConfig
from harness.repomap.index import is_test
from harness.sandbox.base import Sandbox
from harness.sandbox.baseline import Verdict
from harness.sandbox.restore import restore
from harness.sandbox.testrun import Judge, TestRun, run_tests

_SECTION = re.compile(r"^diff --git a/(.+?) b/(.+)$", re.M)


def edited_tests(patch: str) -> list[str]:
    """Test files (by their names) that the patch changes or deletes and that existed before."""
    edited = []
    for head, body in _sections(patch):
        match = _SECTION.match(head)
        if match and is_test(match.group(1)) and not body.startswith("new file mode"):
            edited.append(match.group(1))
    return edited


def without(patch: str, paths: list[str]) -> str:
    """``patch`` without the sections of ``paths``."""
    kept = []
    for head, body in _sections(patch):
        match = _SECTION.match(head)
        if match is None or match.group(1) not in paths:
            kept.append(f"{head}\n{body}")
    return "".join(kept)


def _sections(patch: str) -> list[tuple[str, str]]:
    """(``diff --git`` line, the rest of its section) for each file of a git patch."""
    starts = [m.start() for m in _SECTION.finditer(patch)]
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(patch)
        head, _, body = patch[start:end].partition("\n")
        out.append((head, body))
    return out


@dataclass(frozen=True)
class AsCommitted(TestRun):
    """The suite with the change's edits to ``edited`` taken out; only the target is judged."""

    edited: tuple[str, ...] = ()

    def feedback(self, limit: int = 8000) -> str:
        failing = [n for n, s in (self.verdict.fail_to_pass if self.verdict else {}).items()
                   if s != "passed"]
        note = ("The ticket's tests pass only with your edits to " + ", ".join(self.edited)
                + ". Run as committed at the base commit, these do not pass: "
                + "; ".join(failing) + ". Make the code pass the tests; do not change the "
                "tests the ticket says must pass.\n")
        return note + super().feedback(limit - len(note))


def check(sandbox: Sandbox, cfg: SandboxConfig, judge: Judge, patch: str) -> AsCommitted | None:
    """None when there is nothing to check (no target, or no pre-existing test file edited);
    else the run, the workspace put back as ``patch`` left it."""
    edited = edited_tests(patch)
    if not judge.fail_to_pass or not edited:
        return None
    restore(sandbox, without(patch, edited))
    try:
        run = run_tests(sandbox, cfg, "full", judge_by=judge)
    finally:
        restore(sandbox, patch)
    ftp = run.verdict.fail_to_pass if run.verdict else {}
    verdict = Verdict(all(s == "passed" for s in ftp.values()) and bool(ftp), fail_to_pass=ftp,
                      how="target tests as committed")
    return AsCommitted(run.scope, run.command, run.result, run.report, verdict, tuple(edited))
