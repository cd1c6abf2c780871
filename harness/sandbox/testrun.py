"""Running a repository's tests inside the sandbox: the tests affected by a change first (fast
feedback on a retry), the full suite before a ticket may succeed."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from harness.config.schema import SandboxConfig
from harness.errors import HarnessError, PathOutsideWorkspaceError
from harness.sandbox.affected import related_command
from harness.sandbox.base import ExecResult, Sandbox
from harness.sandbox.baseline import Baseline, BaselineStore, Verdict, judge
from harness.sandbox.reporting import collect, instrument, scripts_of
from harness.sandbox.testreport import TestReport, parse_test_output
from harness.sandbox.workspaces import package_of, workspace_command

Scope = Literal["affected", "full"]
# Links the dependency image's node_modules into the worktree (a no-op without them).
LINK_DEPS = ("python3", "/opt/harness/link_deps.py")


class NoTestCommandError(HarnessError, ValueError):
    """The config names no test command, so no test can run."""


@dataclass(frozen=True)
class TestRun:
    __test__ = False  # not a pytest test class

    scope: Scope
    command: str
    result: ExecResult
    report: TestReport
    verdict: Verdict | None = None  # against the baseline and the ticket's fail_to_pass

    @property
    def passed(self) -> bool:
        return self.verdict.passed if self.verdict is not None else self.result.ok

    def feedback(self, limit: int = 8000) -> str:
        """What the next attempt is told: how the run ended, failing tests first."""
        said = self.verdict.lines() if self.verdict is not None else []
        head = "".join(line + "\n" for line in [f"$ {self.command}", self.result.summary(),
                                                  *said])
        raw = self.result.stdout + ("\n" + self.result.stderr if self.result.stderr else "")
        return head + self.report.feedback(raw, limit - len(head))


@dataclass
class Judge:
    """What every test run of a ticket is judged by: the suite's baseline at the base commit
    (measured once, then cached in ``store``) and the tests the ticket says must pass."""

    store: BaselineStore | None
    commit: str
    image: str
    fail_to_pass: tuple[str, ...] = ()
    baseline: Baseline | None = None

    def prepare(self, sandbox: Sandbox, cfg: SandboxConfig) -> Baseline | None:
        """The baseline, from the store or measured now (before anything changed the
        worktree); None without a test command or with ``sandbox.baseline: false``."""
        if cfg.test_command is None or not cfg.baseline:
            return None
        command = cfg.test_command
        found = self.store.get(self.commit, self.image, command) if self.store else None
        if found is None:
            found = measure_baseline(sandbox, command, commit=self.commit, image=self.image)
            if self.store is not None and not found.timed_out:
                self.store.put(found)
        self.baseline = found
        return found

    def verdict(self, run: TestRun) -> Verdict:
        result = run.result
        stopped = result.timed_out or result.oom_killed or result.quota_exceeded
        return judge(run.report, ok=result.ok, stopped=stopped,
                     scope=run.scope, baseline=self.baseline, fail_to_pass=self.fail_to_pass)


def measure_baseline(sandbox: Sandbox, command: str, *, commit: str, image: str,
                     timeout: float | None = None) -> Baseline:
    """Run the suite as the worktree is: the base commit, before any change."""
    _, result, report = _run(sandbox, command, timeout)
    return Baseline(commit, image, command, result.exit_code, result.timed_out, report.format,
                    tuple(t.name for t in report.failing), report.passing,
                    round(result.duration, 3))


def affected_command(template: str, sandbox: Sandbox, changed: Sequence[str]) -> str:
    """``template`` with ``{changed_files}`` and ``{changed_packages}`` filled in (shell-quoted):
    a package is the nearest directory above a file that holds a package.json."""
    packages = sorted({p for p in (package_of(sandbox, f) for f in changed) if p})
    return template.format(changed_files=" ".join(shlex.quote(f) for f in changed),
                           changed_packages=" ".join(shlex.quote(p) for p in packages))


def link_dependencies(sandbox: Sandbox) -> None:
    """Every workspace package's node_modules in place before a command that needs them; cheap
    and idempotent, so it runs before each test command (a reset may have removed the links)."""
    sandbox.exec(list(LINK_DEPS), timeout=60)


def run_tests(sandbox: Sandbox, cfg: SandboxConfig, scope: Scope = "full", *,
              timeout: float | None = None, judge_by: Judge | None = None) -> TestRun:
    """Run the tests for ``scope``. ``affected`` is ``affected_test_command`` when set, else the
    runner's own related-tests selection (``related_command``) or, for a command run across a
    workspace from its root, the changed packages and their dependents by the package manager's
    own filter (``workspace_command``); the full suite when none applies or nothing has
    changed, or when the narrowed run counted no test (the runner's module graph may stop short:
    vitest 0.34's does at an ``export *``; a filter may match no workspace package)."""
    if cfg.test_command is None:
        raise NoTestCommandError("sandbox.test_command is not set — add e.g. "
                                 "`test_command: npm test` under sandbox: in stages.yaml")
    command = cfg.test_command
    used: Scope = "full"
    changed = sandbox.changed_files() if scope == "affected" else []
    related = None
    if changed and cfg.affected_test_command:
        command, used = affected_command(cfg.affected_test_command, sandbox, changed), scope
    elif changed:
        # a deleted file's dependents are not found from it: then the full suite
        gone = any(not _exists(sandbox, f) for f in changed)
        scripts = scripts_of(sandbox)
        related = None if gone else related_command(command, scripts, changed)
        related = related or workspace_command(command, scripts, sandbox, changed)
    if related is not None:
        ran, result, report = _run(sandbox, related, timeout)
        counted = (report.passed or 0) + (report.failed or 0) > 0
        if result.timed_out or counted or (report.format == "raw" and not result.ok):
            return _judged(TestRun("affected", ran, result, report), judge_by)
    command, result, report = _run(sandbox, command, timeout)
    return _judged(TestRun(used, command, result, report), judge_by)


def _exists(sandbox: Sandbox, path: str) -> bool:
    try:
        return sandbox.exists(path)
    except PathOutsideWorkspaceError:  # a symlink out of the checkout: there, for us it is not
        return False


def _judged(run: TestRun, judge_by: Judge | None) -> TestRun:
    return run if judge_by is None else replace(run, verdict=judge_by.verdict(run))


def _run(sandbox: Sandbox, command: str, timeout: float | None
         ) -> tuple[str, ExecResult, TestReport]:
    """The command as run (a known runner is asked for a report file too), how it ended, and
    its report."""
    link_dependencies(sandbox)
    asked = instrument(command, scripts_of(sandbox))
    result = sandbox.exec(asked.command, timeout=timeout)
    files = collect(sandbox, asked)
    report = parse_test_output(result.stdout, result.stderr, result.exit_code, report_files=files)
    return asked.command, result, report
