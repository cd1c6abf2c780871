"""``harness run``: one ticket, end to end — check the config, open the ticket's sandbox, run the
pipeline, and leave a run directory that says what happened whatever happened."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker

from harness.budget.guard import Guard
from harness.budget.meter import Meter
from harness.calibration.ceilings import Ceilings, RamblingStopped
from harness.calibration.runtime import prepare
from harness.config import secrets as config_secrets
from harness.config.schema import SandboxConfig
from harness.errors import HarnessError, RepoMapError, RunStopped, WorkspaceError
from harness.pipeline.events import Ending
from harness.pipeline.mcp_replay import RecordedMcp
from harness.pipeline.mcp_tools import McpHub, ToolHub
from harness.pipeline.orchestrator import Pipeline
from harness.pipeline.resume import ResumedPipeline, ResumePoint
from harness.pipeline.ticket import Ticket, load_ticket
from harness.repomap import RepoMap
from harness.runs.handoff import handoff_text
from harness.runs.history import mark_interrupted
from harness.runs.record import RunRecorder
from harness.sandbox.baseline import BaselineStore
from harness.sandbox.docker_sandbox import DockerSandbox, Network
from harness.sandbox.engine import connect
from harness.sandbox.publish import publish_branch
from harness.sandbox.session import TicketSpec, ticket_sandbox
from harness.sandbox.testrun import Judge
from harness.stages.load import RunPlan, load_plan
from harness.stages.plan import Attempt
from harness.vendors.replay import ReplayOptions

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

Listener = Callable[[str, dict[str, Any]], None]
CONVENTION_FILES = ("CONVENTIONS.md", "CONTRIBUTING.md")
BASELINES = ".baseline"  # under the runs directory: the suite at each base commit, per image


@dataclass(frozen=True)
class RunRequest:
    ticket: Path | Ticket  # a ticket file, or a ticket already loaded (batch rows)
    repo: Path
    config: Path
    runs_dir: Path
    base: str | None = None
    include_uncommitted: bool = False
    commit_branch: str | None = None  # opt-in: the result as a branch of the user's repo
    # The user's data directory (the CLI resolves it from the environment); the run is recorded
    # in its project's history there unless the stages file sets calibration.history. None and
    # no such setting: no history, the fixed token_cap.
    history_home: Path | None = None
    image: str | None = None  # run exactly this image (a replay: the one the run recorded)


@dataclass(frozen=True)
class RunResult:
    status: str
    run_dir: Path
    detail: str = ""
    branch: str | None = None
    crashed: bool = False  # an unexpected exception ended it (crash.txt)

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "resolved" else 1

    @property
    def patch(self) -> Path:
        return self.run_dir / "final.diff"


def new_run_id(ticket: Ticket) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{ticket.id}-{stamp}-{secrets.token_hex(2)}"


def execute(request: RunRequest, *, listener: Listener | None = None,
            client: docker.DockerClient | None = None, tracer: Tracer | None = None) -> RunResult:
    """Raises ``ConfigError``/``TicketError`` before anything is spent; everything after that
    ends in the run directory's status. An unusable history file raises ``HistoryError``, also
    before anything is spent. With a ``tracer`` the run is also a trace (docs/telemetry.md)."""
    plan = load_plan(request.config)  # refused here: zero vendor requests
    check_secrets(plan)  # and here: an MCP secret whose variable is not set
    ticket = request.ticket if isinstance(request.ticket, Ticket) else load_ticket(request.ticket)
    history = prepare(plan.config, request.repo.resolve(),
                      config_dir=request.config.resolve().parent, home=request.history_home)
    request.runs_dir.mkdir(parents=True, exist_ok=True)
    mark_interrupted(request.runs_dir)
    run_id = new_run_id(ticket)
    run_dir = (request.runs_dir / run_id).resolve()
    calibration = history.ceilings.start()
    recorder = _recorder(run_dir, {**_initial_state(run_id, request, plan, ticket),
                                   "calibration": calibration}, listener, tracer)
    recorder.event("run_start", run_id=run_id, ticket=ticket.id, run_dir=str(run_dir))
    recorder.event("calibration", **calibration)
    result = settled(recorder, lambda: run_in_sandbox(
        request, plan, ticket, recorder, client or connect(), ceilings=history.ceilings))
    if result.crashed:
        return result
    try:
        recorder.update(history=history.record(recorder.state))
    except Exception as exc:  # the run's outcome stands; only its history entry is missing
        name = recorder.write_crash(exc)
        recorder.update(history={"recorded": False, "error": f"{type(exc).__name__}: {exc}",
                                 "crash": name})
    return result


def settled(recorder: RunRecorder, body: Callable[[], RunResult]) -> RunResult:
    """``body``'s result, and whatever happens the run's final status on record (never
    ``running``)."""
    try:
        return body()
    except (KeyboardInterrupt, SystemExit):
        recorder.finish("interrupted")
        raise
    except HarnessError as exc:
        recorder.finish("error", error=str(exc))
        return RunResult("error", recorder.dir, str(exc))
    except Exception as exc:  # a bug, or a fault nothing expected: on record, never `running`
        return _crashed(recorder, exc)


def _recorder(run_dir: Path, state: dict[str, Any], listener: Listener | None,
              tracer: Tracer | None) -> RunRecorder:
    if tracer is None:  # the tracing module (and OpenTelemetry) is not even imported
        return RunRecorder(run_dir, state, listener=listener)
    from harness.runs.telemetry import TracedRecorder  # noqa: PLC0415 - only when traced
    return TracedRecorder(run_dir, state, tracer=tracer, listener=listener)


def check_secrets(plan: RunPlan) -> None:
    """Every ``${NAME}`` the stages' MCP servers refer to is set (the values are read again
    where each server starts, and never kept)."""
    for role, stage in plan.stages.items():
        for server in stage.config.mcp_servers:
            config_secrets.resolve(server.env, os.environ,
                                   where=f"{role}.mcp_servers `{server.name}`")


def _crashed(recorder: RunRecorder, exc: Exception) -> RunResult:
    """An unexpected exception: the traceback goes to crash.txt, the run ends ``error`` with
    one line that says where the details are."""
    name = recorder.write_crash(exc)
    detail = f"unexpected {type(exc).__name__}: {exc} — details in {recorder.dir / name}"
    recorder.finish("error", error=detail, crash=name)
    return RunResult("error", recorder.dir, detail, crashed=True)


def run_in_sandbox(request: RunRequest, plan: RunPlan, ticket: Ticket, recorder: RunRecorder,
                   client: docker.DockerClient, *, ceilings: Ceilings | None,
                   resume: ResumePoint | None = None) -> RunResult:
    """The run in its sandbox, from the start or (``resume``) from where a finished run of
    this directory stopped: then the caps count what the run spent before."""
    cfg = _sandbox_config(plan.config.sandbox, ticket)
    spec = TicketSpec(repo=request.repo.resolve(), run_dir=recorder.dir,
                      run_id=recorder.dir.name, ticket=ticket.id,
                      base=request.base or ticket.base or "HEAD",
                      include_uncommitted=request.include_uncommitted,
                      network=_network(plan), image=request.image)
    spent = recorder.state["totals"] if resume else {"tokens": 0, "cost_usd": 0.0}
    meter = Meter(plan.config.token_cap, plan.config.cost_cap_usd, int(spent["tokens"]),
                  float(spent["cost_usd"]),
                  on_change=lambda m: recorder.event("meter", tokens=m.tokens,
                                                     cost_usd=round(m.cost_usd, 6)))
    progress = lambda line: recorder.event("sandbox", line=line)  # noqa: E731
    with ExitStack() as stack:
        sandbox = stack.enter_context(ticket_sandbox(
            client, cfg, spec, config_dir=request.config.resolve().parent, progress=progress))
        recorder.update(base_commit=sandbox.workspace.base_commit,
                        image=sandbox.container.attrs.get("Image"),
                        workspace_notes=list(sandbox.workspace.notes))
        hubs = stack.enter_context(_mcp_hubs(plan, request.config.resolve().parent))
        judge = Judge(BaselineStore(request.runs_dir / BASELINES),
                      sandbox.workspace.base_commit, str(sandbox.container.attrs.get("Image")),
                      tuple(ticket.fail_to_pass))
        make: Callable[..., Pipeline] = (Pipeline if resume is None
                                         else partial(ResumedPipeline, point=resume))
        guard = Guard(meter, recorder, ceilings, _spent=_by_stage(recorder.state["attempts"]))
        pipeline = make(plan, ticket, sandbox, cfg, guard, recorder,
                        conventions=_conventions(sandbox, ticket), mcp=hubs, judge=judge,
                        repo_map=_repo_map(plan, request, sandbox.workspace.base_commit,
                                           recorder))
        try:
            ending = pipeline.run()
        except RunStopped as stop:
            stage = stop.stage if isinstance(stop, RamblingStopped) else None
            ending = Ending("halted", stage, str(stop))
            _close(recorder, sandbox, pipeline, ending, status=stop.status)
            return RunResult(stop.status, recorder.dir, str(stop))
        status: str = ending.status
        branch: str | None = None
        if status == "resolved" and request.commit_branch is not None:
            try:
                branch = _commit_branch(sandbox, request, ticket, plan)
            except WorkspaceError as exc:  # the result stands in final.diff; no branch
                status, ending = "error", replace(ending, detail=f"resolved, but {exc}")
        _close(recorder, sandbox, pipeline, ending, status=status, branch=branch)
        return RunResult(status, recorder.dir, ending.detail, branch)


def _by_stage(attempts: list[dict[str, Any]]) -> dict[str, int]:
    """Tokens each stage spent: a resumed run's rambling checks go on from there."""
    spent: dict[str, int] = {}
    for a in attempts:
        spent[str(a["stage"])] = spent.get(str(a["stage"]), 0) + int(a["tokens"])
    return spent


def _repo_map(plan: RunPlan, request: RunRequest, commit: str,
              recorder: RunRecorder) -> RepoMap | None:
    """The base commit's repository map (cached by blob id in the user's data directory), or
    None when the Planner's budget is 0. A map that cannot be built is noted, not fatal: the
    stages still have their file tools."""
    if plan.config.planner.repo_map_tokens == 0:
        return None
    cache = request.history_home / "repomap" if request.history_home is not None else None
    try:
        built = RepoMap.build(request.repo.resolve(), commit, cache)
    except RepoMapError as exc:
        recorder.event("repo_map", error=str(exc))
        return None
    stats = built.index.stats
    recorder.event("repo_map", files=stats.files, parsed=stats.parsed, seconds=stats.seconds)
    return built


@contextmanager
def _mcp_hubs(plan: RunPlan, config_dir: Path) -> Iterator[dict[str, ToolHub]]:
    """An MCP client hub per stage that lists servers and calls through an SDK vendor (a CLI
    vendor gets the servers as its own --mcp-config); for a stage that only replays a recorded
    run, that run's recorded tools and results."""
    with ExitStack() as stack:
        hubs: dict[str, ToolHub] = {}
        for role, stage in plan.stages.items():
            servers = [s if s.cwd or s.url else s.model_copy(update={"cwd": str(config_dir)})
                       for s in stage.config.mcp_servers]
            if not servers or all(a.vendor.surface == "cli" for a in stage.attempts):
                continue
            recorded = _replayed_run(stage.attempts)
            hubs[role] = (RecordedMcp(recorded, role) if recorded is not None
                          else stack.enter_context(McpHub(servers)))
        yield hubs


def _replayed_run(attempts: tuple[Attempt, ...]) -> Path | None:
    """The run directory every attempt replays, if they all replay one."""
    dirs = {a.options.run_dir if isinstance(a.options, ReplayOptions) else None
            for a in attempts}
    only = dirs.pop() if len(dirs) == 1 else None
    return Path(only) if only else None


def _close(recorder: RunRecorder, sandbox: DockerSandbox, pipeline: Pipeline, ending: Ending,
           *, status: str, branch: str | None = None) -> None:
    diff = sandbox.diff()
    recorder.write("final.diff", diff)
    if status == "needs_human":
        recorder.write("HANDOFF.md", handoff_text(recorder.state, pipeline, ending, diff))
    recorder.finish(status, detail=ending.detail[:4000], stopped_in=ending.stage,
                    branch=branch, patch="final.diff")


def _initial_state(run_id: str, request: RunRequest, plan: RunPlan,
                   ticket: Ticket) -> dict[str, Any]:
    return {
        "run_id": run_id, "ticket": ticket.model_dump(), "repo": str(request.repo.resolve()),
        "config_file": str(request.config.resolve()),
        "config": plan.config.model_dump(mode="json"),  # keys are env var names, not values
        "stages": {role: [{"attempt": a.number, "vendor": a.vendor.name, "model": a.model_id,
                           "tier": a.tier, "control": str(a.control) if a.control else None}
                          for a in stage.attempts] for role, stage in plan.stages.items()},
        "base_ref": request.base or ticket.base or "HEAD",
    }


def _sandbox_config(cfg: SandboxConfig, ticket: Ticket) -> SandboxConfig:
    if ticket.test_command:
        return cfg.model_copy(update={"test_command": ticket.test_command})
    return cfg


_NETWORK: dict[str, Network] = {"none": "none", "cli-only": "proxy", "always": "always"}


def _network(plan: RunPlan) -> Network:
    """The container's network: cli-only means none at all, with a CLI stage's API reachable
    through the egress proxy (which holds the key) while that stage runs."""
    return _NETWORK[plan.config.sandbox.network]


def _conventions(sandbox: DockerSandbox, ticket: Ticket) -> str | None:
    if ticket.conventions:
        return ticket.conventions
    for name in CONVENTION_FILES:
        if sandbox.exists(name):
            return sandbox.read_file(name)[:20_000]
    return None


def _commit_branch(sandbox: DockerSandbox, request: RunRequest, ticket: Ticket,
                   plan: RunPlan) -> str:
    """Commit the result in the ticket's private repository and point a new branch of the
    user's repository at it; their checkout, index and current branch are untouched."""
    assert request.commit_branch is not None
    sha = sandbox.workspace.commit(f"{ticket.id}: {ticket.title}")
    limit = plan.config.sandbox.commit_branch_max_file_mb << 20
    publish_branch(sandbox.workspace, sha, request.commit_branch, max_file_bytes=limit)
    return request.commit_branch
