"""A pipeline picked up where a finished run stopped (``harness resume``): the workspace as the
run left it, the accepted plan, the sub-tickets that passed, and a fresh attempt ladder for the
stage that surfaced, with the human's brief.

Everything here comes from the run's record (run.json, final.diff), which holds text the model
and the container wrote: it is parsed as data (pydantic models, a patch the container applies)
and never executed on the host."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.pipeline.events import Ending
from harness.pipeline.manifest import Manifest
from harness.pipeline.orchestrator import Pipeline
from harness.sandbox.restore import restore
from harness.sandbox.testrun import link_dependencies

RESUMABLE_STAGES = ("planner", "coder", "reviewer")
_ROUND = re.compile(r"^(?P<prefix>.+?)(?:/r(?P<n>\d+))?/a\d+$")


@dataclass(frozen=True)
class ResumePoint:
    """Where a resumed run starts: ``stage`` gets a fresh ladder and ``brief``."""

    stage: str
    brief: str | None
    diff: str  # the workspace's diff against the base commit when the run ended
    manifest: Mapping[str, Any] | None  # run.json's accepted plan
    attempts: Sequence[Mapping[str, Any]]  # run.json's attempts, in order
    last_failure: str = ""


@dataclass
class ResumedPipeline(Pipeline):
    point: ResumePoint | None = field(default=None, kw_only=True)

    def run(self) -> Ending:
        assert self.point is not None
        point = self.point
        self._baseline()  # before the diff goes back: measured at the base commit (or cached)
        if point.stage != "planner":  # a new plan starts from the base commit
            restore(self.sandbox, point.diff)
            link_dependencies(self.sandbox)  # the restore's reset removed untracked links
        self._seed(point)
        self.recorder.event("resume_start", stage=point.stage, attempts=len(point.attempts))
        return self.run_from(point.stage)

    def _seed(self, point: ResumePoint) -> None:
        self._rounds.update(rounds(point.attempts))
        self._debugger_calls = sum(1 for a in point.attempts if a.get("stage") == "debugger")
        self.last_failure = point.last_failure
        if point.stage != "planner" and point.manifest is not None:
            self._accept_manifest(Manifest.model_validate(dict(point.manifest)))
            self.passed.update(passed_sub_tickets(point.attempts, self._sub_ticket_ids()))
        self.findings.extend(str(a.get("detail") or "") for a in point.attempts
                             if a.get("outcome") == "request_changes")
        if point.brief:
            if point.stage == "reviewer":  # its prompt has no brief: it reads the findings
                self.findings.append(f"- A person who took over this run says: {point.brief}")
            else:
                self.briefs[point.stage] = point.brief

    def _sub_ticket_ids(self) -> set[str]:
        return {t.id for t in self.manifest.sub_tickets} if self.manifest else set()


def rounds(attempts: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many times each ladder was walked (``coder/S1/r2/a1`` is coder/S1's second walk), so
    the resumed walks get new labels (``…/r3``)."""
    found: dict[str, int] = {}
    for a in attempts:
        m = _ROUND.match(str(a.get("label", "")))
        if m is None or m["prefix"].endswith("/run_tests"):
            continue
        found[m["prefix"]] = max(found.get(m["prefix"], 0), int(m["n"] or 1))
    return found


def passed_sub_tickets(attempts: Sequence[Mapping[str, Any]], ids: set[str]) -> set[str]:
    """The plan's sub-tickets a Coder attempt passed (``coder/<id>/…`` with outcome passed)."""
    done = set()
    for a in attempts:
        parts = str(a.get("label", "")).split("/")
        if a.get("stage") == "coder" and a.get("outcome") == "passed" and len(parts) > 2 \
                and parts[1] in ids:
            done.add(parts[1])
    return done
