"""A baseline before blame: the full suite at the base commit, run once per (commit, image, test
command) and cached, so tests that already failed there are reported as pre-existing and never
count against the Coder. A run is then judged like the SWE-bench harness judges one:

- fail-to-pass: the tests the ticket names (``fail_to_pass:``) must pass;
- pass-to-pass: no test may fail that did not fail at the base commit.

Without a usable baseline (no test names could be read, or the suite timed out) the exit code
decides, as it always did."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.sandbox.testreport import SEP, TestReport
from harness.sandbox.testresults import test_name

Status = Literal["passed", "failed", "not run"]


@dataclass(frozen=True)
class Baseline:
    commit: str
    image: str
    command: str
    exit_code: int
    timed_out: bool
    format: str
    failing: tuple[str, ...]
    passing: tuple[str, ...]
    duration: float
    cached: bool = False

    @property
    def usable(self) -> bool:
        """Whether it can tell pre-existing failures from new ones."""
        return not self.timed_out and self.format != "raw"

    def summary(self) -> dict[str, Any]:
        return {**asdict(self), "failing": list(self.failing), "passing": len(self.passing)}


@dataclass(frozen=True)
class Verdict:
    passed: bool
    new_failures: tuple[str, ...] = ()  # failing now, not at the base commit: the Coder's
    pre_existing: tuple[str, ...] = ()  # failing now and at the base commit: not counted
    fail_to_pass: dict[str, Status] = field(default_factory=dict)
    how: str = "exit code"  # what decided: "exit code" or "baseline"

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "how": self.how, "new_failures": list(self.new_failures),
                "pre_existing": list(self.pre_existing), "fail_to_pass": self.fail_to_pass}

    def lines(self) -> list[str]:
        """What the next attempt is told before the report itself."""
        out = []
        if self.how == "baseline":
            out.append(f"Verdict against the base commit: {len(self.new_failures)} test(s) fail "
                       "that passed before your change" + (
                           f"; {len(self.pre_existing)} already failed at the base commit "
                           "(not counted: leave them unless the ticket is about them)"
                           if self.pre_existing else "") + ".")
        missing = [n for n, s in self.fail_to_pass.items() if s != "passed"]
        if missing:
            out.append("The ticket's tests that must pass do not: " + "; ".join(
                f"{n} ({self.fail_to_pass[n]})" for n in missing) + ".")
        return out


def named(required: str, names: Sequence[str]) -> bool:
    """Whether ``required`` is one of ``names``: the same, or the end of a longer name (the
    runner added a file or package in front)."""
    required = test_name(required)
    return any(n == required or n.endswith(SEP + required) for n in names)


def judge(report: TestReport, *, ok: bool, stopped: bool, scope: str,
          baseline: Baseline | None, fail_to_pass: Sequence[str] = ()) -> Verdict:
    """``ok``: the command exited 0 within its limits; ``stopped``: it was killed (time or
    memory). ``scope``: "full" or "affected" (an affected run need not have run every
    fail-to-pass test)."""
    now = [t.name for t in report.failing]
    ftp = {name: _status(name, report, now, ok=ok, scope=scope, baseline=baseline)
           for name in fail_to_pass}
    ftp_ok = all(s == "passed" or (s == "not run" and scope != "full") for s in ftp.values())
    if baseline is None or not baseline.usable or report.format == "raw":
        return Verdict(ok and ftp_ok, fail_to_pass=ftp)
    # An affected run may name a test without the package in front that the full suite's
    # baseline has (pnpm prefixes a package's output only when it runs several): still old.
    before = set(baseline.failing)
    old = tuple(n for n in now if n in before or named(n, baseline.failing))
    new = tuple(n for n in now if n not in old)
    # A non-zero exit with no failure named (a coverage threshold, a lint step in the command)
    # is the change's fault unless the base commit exited non-zero too.
    exit_ok = ok or bool(now) or baseline.exit_code != 0
    passed = not new and ftp_ok and exit_ok and not stopped
    return Verdict(passed, new, old, ftp, "baseline")


def _status(name: str, report: TestReport, now: Sequence[str], *, ok: bool, scope: str,
            baseline: Baseline | None) -> Status:
    if named(name, now):
        return "failed"
    if named(name, report.passing) or (ok and report.format != "raw"):
        return "passed"
    # A runner's default output may list failures only. The full suite, read, ran tests and no
    # longer names one that failed at the base commit: it passed.
    if scope == "full" and report.format != "raw" and (report.passed or 0) > 0 \
            and baseline is not None and baseline.usable and named(name, baseline.failing):
        return "passed"
    return "not run"


class BaselineStore:
    """Baselines as JSON files in one directory (a runs directory's ``.baseline``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, commit: str, image: str, command: str) -> Path:
        digest = hashlib.sha256(f"{commit}\0{image}\0{command}".encode()).hexdigest()[:24]
        return self.directory / f"{commit[:12]}-{digest}.json"

    def get(self, commit: str, image: str, command: str) -> Baseline | None:
        try:
            data = json.loads(self.path(commit, image, command).read_text())
            data["failing"], data["passing"] = tuple(data["failing"]), tuple(data["passing"])
            return Baseline(**{**data, "cached": True})
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def put(self, baseline: Baseline) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(baseline.commit, baseline.image, baseline.command)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        data = {**asdict(baseline), "failing": list(baseline.failing),
                "passing": list(baseline.passing)}
        data.pop("cached")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(path)  # atomic: a concurrent run reads the old file or the new one
