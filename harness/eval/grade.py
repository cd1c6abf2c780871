"""Grading a result with the instance's hidden tests, as the SWE-bench harness does: in a fresh
sandbox at the base commit, apply the result's patch, then ``test_patch``, run the suite through
the runners' parsers (harness.sandbox.testrun), and read each of FAIL_TO_PASS and PASS_TO_PASS.
Resolved iff every one passed. Both patches are hostile data: they are applied inside the
container, on the ticket's private checkout, never by the host and never to the user's
repository."""

from __future__ import annotations

import re
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import docker

from harness.config.schema import SandboxConfig
from harness.errors import HarnessError
from harness.eval.instances import Instance
from harness.runs.record import write_text_atomic
from harness.sandbox.base import ExecResult
from harness.sandbox.baseline import BaselineStore, Verdict
from harness.sandbox.restore import apply_patch
from harness.sandbox.session import TicketSpec, ticket_sandbox
from harness.sandbox.testrun import Judge, TestRun, run_tests

Outcome = Literal["resolved", "unresolved", "patch_failed", "error"]
LOG_TAIL = 20_000  # characters of the grading run's output kept in its log


@dataclass(frozen=True)
class Grade:
    outcome: Outcome
    tests: Mapping[str, str] = field(default_factory=dict)  # name -> passed/failed/not run
    new_failures: tuple[str, ...] = ()  # without PASS_TO_PASS: failing now, not at the base
    detail: str = ""
    seconds: float = 0.0

    @property
    def resolved(self) -> bool:
        return self.outcome == "resolved"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tests": dict(self.tests), "new_failures": list(self.new_failures),
                "resolved": self.resolved}


def decide(inst: Instance, verdict: Verdict, *, stopped: bool) -> Grade:
    """The outcome from the grading run's verdict (whose ``fail_to_pass`` holds every
    FAIL_TO_PASS and PASS_TO_PASS name). Without PASS_TO_PASS (a harness ticket) the verdict
    against the base commit's suite decides, as it does a run."""
    tests = dict(verdict.fail_to_pass)
    bad = [n for n, s in tests.items() if s != "passed"]
    if stopped:
        return Grade("unresolved", tests, detail="the test command was stopped (time, memory "
                     "or disk)")
    if inst.PASS_TO_PASS is None:
        ok = verdict.passed
        why = "; ".join(verdict.lines()) or "the suite failed"
        return Grade("resolved" if ok else "unresolved", tests, verdict.new_failures,
                     "" if ok else why)
    if bad:
        return Grade("unresolved", tests, detail=f"{len(bad)} of {len(tests)} tests did not "
                     "pass: " + "; ".join(f"{n} ({tests[n]})" for n in bad[:10]))
    return Grade("resolved", tests)


@dataclass(frozen=True)
class Grader:
    """What every grading of one eval shares: the engine, the sandbox (with the instance's
    test command), where the grading checkouts go, and the base commits' suites (``store``)."""

    client: docker.DockerClient
    cfg: SandboxConfig
    work: Path
    store: BaselineStore
    config_dir: Path
    logs: Path | None = None  # each grading run's output, as <instance>.txt

    def grade(self, inst: Instance, repo: Path, patch: str) -> Grade:
        started = time.monotonic()
        try:
            found = self._grade(inst, repo, patch)
        except HarnessError as exc:  # a broken sandbox, a missing commit: the pair's error
            found = Grade("error", detail=str(exc)[:2000])
        return Grade(found.outcome, found.tests, found.new_failures, found.detail,
                     round(time.monotonic() - started, 3))

    def _grade(self, inst: Instance, repo: Path, patch: str) -> Grade:
        pinned = {"test_command": inst.test_command, "node": inst.node}
        cfg = self.cfg.model_copy(update={k: v for k, v in pinned.items() if v})
        if cfg.test_command is None:
            return Grade("error", detail="no test command: set sandbox.test_command in the "
                         "stages file or `test_command` in the instance")
        run_dir = self.work / f"{inst.instance_id}-{secrets.token_hex(3)}"
        spec = TicketSpec(repo.resolve(), run_dir, run_dir.name, inst.instance_id,
                          base=inst.base_commit or "HEAD", network="none")
        run_dir.mkdir(parents=True)
        try:
            with ticket_sandbox(self.client, cfg, spec, config_dir=self.config_dir,
                                progress=lambda _: None) as sandbox:
                names = (*inst.FAIL_TO_PASS, *(inst.PASS_TO_PASS or ()))
                judge = Judge(self.store if inst.PASS_TO_PASS is None else None,
                              sandbox.workspace.base_commit,
                              str(sandbox.container.attrs.get("Image")), names)
                if inst.PASS_TO_PASS is None:
                    judge.prepare(sandbox, cfg)  # the base commit's suite, before any patch
                # as SWE-bench does: the hidden tests' files are theirs, whatever the result did
                result_patch = without_files(patch, patched_files(inst.test_patch))
                for what, text in (("the result's patch", result_patch),
                                   ("the instance's test_patch", inst.test_patch)):
                    done = apply_patch(sandbox, text)
                    if done is not None and not done.ok:
                        return Grade("patch_failed", detail=_refused(what, done))
                run = run_tests(sandbox, cfg, "full", judge_by=judge)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        self._log(inst, run)
        assert run.verdict is not None
        result = run.result
        return decide(inst, run.verdict,
                      stopped=result.timed_out or result.oom_killed or result.quota_exceeded)

    def _log(self, inst: Instance, run: TestRun) -> None:
        if self.logs is None:
            return
        out = run.result
        self.logs.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.logs / f"{inst.instance_id}.txt",
                          f"$ {run.command}\n{out.summary()}\nformat: {run.report.format}\n"
                          f"--- stdout\n{out.stdout[-LOG_TAIL:]}\n--- stderr\n"
                          f"{out.stderr[-LOG_TAIL:]}\n")


_HEADER = re.compile(r"^diff --git a/(.*?) b/(.*)$", re.M)


def patched_files(patch: str) -> set[str]:
    """The paths a patch's file diffs name (both sides of a rename)."""
    return {p for m in _HEADER.finditer(patch) for p in m.groups()}


def without_files(patch: str, paths: set[str]) -> str:
    """``patch`` less the file diffs that touch any of ``paths``."""
    starts = [m.start() for m in _HEADER.finditer(patch)]
    if not paths or not starts:
        return patch
    pieces = [patch[:starts[0]]]
    for start, end in zip(starts, [*starts[1:], len(patch)], strict=True):
        header = _HEADER.match(patch, start)
        assert header is not None
        if not set(header.groups()) & paths:
            pieces.append(patch[start:end])
    return "".join(pieces)


def _refused(what: str, done: ExecResult) -> str:
    return f"{what} does not apply ({done.summary()}): {done.stderr.strip()[-500:]}"
