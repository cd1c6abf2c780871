"""``harness resume``: a ``needs_human`` or ``halted`` run continued in its own run directory.

The stage that surfaced (run.json's ``stopped_in``) gets a fresh attempt ladder and the human's
brief; the other stages keep what they had used (the Debugger's calls included). The workspace
starts from the recorded base commit with the run's final.diff applied inside a fresh sandbox;
the caps count what the run spent before (docs/run-directory.md, "Resuming a run").

The run directory holds text the model and the container wrote: run.json is read with
``json.loads`` into pydantic models, the diff is applied by git inside the container
(``sandbox.restore``), and nothing recorded is executed or imported on the host."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker

from harness.calibration.runtime import prepare
from harness.errors import HarnessError
from harness.pipeline.resume import RESUMABLE_STAGES, ResumePoint
from harness.pipeline.ticket import Ticket
from harness.runs.execute import (
    RunRequest,
    RunResult,
    check_secrets,
    run_in_sandbox,
    settled,
)
from harness.runs.history import read_run
from harness.runs.record import RUNNING, RunRecorder
from harness.sandbox.engine import connect
from harness.sandbox.lease import LEASE, Lease, is_alive
from harness.stages.load import RunPlan, load_plan

Listener = Callable[[str, dict[str, Any]], None]
RESUMABLE = ("needs_human", "halted")
RESUME_LOCK = ".resume"  # a directory whose .lease one resuming process holds
ARCHIVE = "resumed"  # resumed/<n>/: the HANDOFF.md and final.diff the n-th resume started from


class ResumeRefusedError(HarnessError, ValueError):
    """The run cannot be resumed as asked (its state, its config); nothing was spent."""


@dataclass(frozen=True)
class ResumeRequest:
    run_dir: Path
    brief: str | None = None
    # A stages file named on the command line; None: the recorded one, which must parse to the
    # config the run recorded.
    config: Path | None = None
    history_home: Path | None = None


def resume(request: ResumeRequest, *, listener: Listener | None = None,
           client: docker.DockerClient | None = None) -> RunResult:
    """Raises ``ResumeRefusedError`` (or a ``ConfigError``) before anything is spent."""
    run_dir = request.run_dir.resolve()
    with _resume_lock(run_dir):
        state = read_run(run_dir)
        if state is None:
            raise ResumeRefusedError(f"{run_dir} holds no readable run.json")
        stage = resumable_stage(run_dir, state)
        config_path, plan = resume_plan(request.config, state)
        check_secrets(plan)
        ticket = Ticket.model_validate(state["ticket"])
        repo = Path(str(state["repo"]))
        history = prepare(plan.config, repo, config_dir=config_path.parent,
                          home=request.history_home)
        point = ResumePoint(stage, request.brief, _last_diff(run_dir, state),
                            state.get("manifest"), list(state.get("attempts") or ()),
                            str(state.get("detail") or ""))
        recorder = _reopen(run_dir, state, request, stage=stage, config_path=config_path,
                           plan=plan, listener=listener)
        run = RunRequest(ticket, repo, config_path, run_dir.parent, base=state["base_commit"])
        return settled(recorder, lambda: run_in_sandbox(
            run, plan, ticket, recorder, client or connect(), ceilings=history.ceilings,
            resume=point))


@contextmanager
def _resume_lock(run_dir: Path) -> Iterator[None]:
    """One resuming process per run directory (the run's own lease is taken later, by its
    sandbox)."""
    if not (run_dir / "run.json").is_file():
        raise ResumeRefusedError(f"{run_dir} is not a run directory (no run.json)")
    lease = Lease(run_dir / RESUME_LOCK)
    try:
        lease.__enter__()
    except RuntimeError:
        raise ResumeRefusedError(f"{run_dir} is being resumed by another harness process") \
            from None
    try:
        yield
    finally:
        lease.__exit__(None, None, None)


def resumable_stage(run_dir: Path, state: dict[str, Any]) -> str:
    """The stage the run resumes at; refuses a run that is not ``needs_human``/``halted``."""
    status = state.get("status")
    if status == RUNNING:
        how = ("its process still holds the lease" if is_alive(run_dir) else
               "its process is gone (the next run or `harness gc` marks it interrupted)")
        raise ResumeRefusedError(f"{run_dir} is still marked running: {how} — wait for it "
                                 "to end; only a needs_human or halted run resumes")
    if status == "resolved":
        raise ResumeRefusedError(f"{run_dir} is resolved: there is nothing to resume (its "
                                 "patch is final.diff)")
    if status not in RESUMABLE:
        raise ResumeRefusedError(f"{run_dir} ended `{status}`: only a needs_human or halted "
                                 "run resumes — start a new run with `harness run`")
    stage = state.get("stopped_in")
    if stage not in RESUMABLE_STAGES or not state.get("base_commit"):
        raise ResumeRefusedError(f"{run_dir}: run.json names no stage that surfaced "
                                 f"(stopped_in: {stage!r}) or no base commit: cannot resume")
    return str(stage)


def resume_plan(explicit: Path | None, state: dict[str, Any]) -> tuple[Path, RunPlan]:
    """The stages file to resume with: ``explicit``, or the recorded one when it still says
    what the run ran."""
    if explicit is not None:
        return explicit.resolve(), load_plan(explicit)
    recorded = Path(str(state.get("config_file") or ""))
    if not recorded.is_file():
        raise ResumeRefusedError(f"the stages file the run used ({recorded}) is gone: name one "
                                 "with --config PATH")
    plan = load_plan(recorded)
    now = json.loads(json.dumps(plan.config.model_dump(mode="json"), default=str))
    if now != state.get("config"):
        changed = sorted(k for k in {*now, *(state.get("config") or {})}
                         if now.get(k) != (state.get("config") or {}).get(k))
        raise ResumeRefusedError(
            f"the stages file {recorded} changed since the run (different: "
            f"{', '.join(changed)}): resume with what it ran by restoring the file, or name "
            f"the file to use now with --config {recorded}")
    return recorded, plan


def _last_diff(run_dir: Path, state: dict[str, Any]) -> str:
    """final.diff; when the run wrote none, the last Coder attempt's diff; else no change."""
    diffs = [str(a["diff"]) for a in state.get("attempts") or () if a.get("diff")]
    for name in ("final.diff", *reversed(diffs)):
        path = (run_dir / name).resolve()
        if run_dir in path.parents and path.is_file():
            return path.read_text(encoding="utf-8", errors="replace")
    return ""


def _reopen(run_dir: Path, state: dict[str, Any], request: ResumeRequest, *, stage: str,
            config_path: Path, plan: RunPlan, listener: Listener | None) -> RunRecorder:
    """The run directory back to ``running``, what the human saw archived under resumed/<n>/,
    the ``resumed`` event on record."""
    resumes = list(state.get("resumes") or ())
    n = len(resumes) + 1
    archive = run_dir / ARCHIVE / str(n)
    archive.mkdir(parents=True, exist_ok=True)
    for name in ("HANDOFF.md", "final.diff"):
        if (run_dir / name).is_file():
            shutil.move(run_dir / name, archive / name)
    # The old lease file is not held (the status is final): without it, a run starting in this
    # runs dir sees a live pid and leaves this run alone until the sandbox takes the lease.
    (run_dir / LEASE).unlink(missing_ok=True)
    totals = state.get("totals") or {}
    entry = {"n": n, "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
             "from_status": state.get("status"), "stage": stage, "brief": request.brief,
             "config_file": str(config_path), "archive": f"{ARCHIVE}/{n}",
             "spent_before": {"tokens": totals.get("tokens", 0),
                              "cost_usd": totals.get("cost_usd", 0.0)},
             "attempts_before": len(state.get("attempts") or ())}
    fresh = {k: v for k, v in state.items() if k not in ("detail", "stopped_in", "error")}
    recorder = RunRecorder.reopen(run_dir, {
        **fresh, "resumes": [*resumes, entry], "config_file": str(config_path),
        "config": plan.config.model_dump(mode="json")}, listener=listener)
    recorder.event("resumed", run_id=state.get("run_id"), ticket=state["ticket"].get("id"),
                   run_dir=str(run_dir), **{k: entry[k] for k in (
                       "n", "from_status", "stage", "brief", "spent_before")})
    return recorder
