"""One attempt of one stage: the tool-use loop above the vendor boundary.

SDK vendors get the stage's tools and end by calling its terminal tool (``finish``,
``submit_manifest``, ...), whose arguments are validated like any input. CLI vendors run their own
agent inside the container in one call and answer with JSON matching the terminal tool's schema.
Every call counts against the run's meter before anything else happens with its answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from harness.budget.meter import Meter
from harness.config.schema import McpServerConfig
from harness.errors import RunStopped
from harness.pipeline.condense import condense
from harness.pipeline.edit_tools import EditHistory
from harness.pipeline.events import Recorder
from harness.pipeline.fallback import Serving
from harness.pipeline.mcp_tools import ToolHub
from harness.pipeline.prompts import Prompt
from harness.pipeline.repomap_tool import call_repo_map
from harness.pipeline.tools import REPO_MAP, RUN_TESTS, Toolbox, describe, run_tool
from harness.repomap import RepoMap
from harness.sandbox.base import Sandbox
from harness.sandbox.restore import restore
from harness.stages.plan import Attempt
from harness.vendors.errors import VendorError, VendorTimeoutError
from harness.vendors.types import Message, ModelRequest, ModelResponse, ToolResult, Usage

Outcome = Literal["done", "timed_out", "error", "turn_limit", "no_result", "stopped"]
NUDGES = 2  # times a model that stops without its terminal tool is asked again


@dataclass(frozen=True)
class AgentTask:
    stage: str
    label: str
    attempt: Attempt
    system: str
    prompt: Prompt
    toolbox: Toolbox
    result_model: type[BaseModel]
    timeout: float
    max_turns: int
    text_is_result: bool = False  # a final answer without the terminal tool counts (Coder)
    mcp_servers: tuple[McpServerConfig, ...] = ()


@dataclass(frozen=True)
class AttemptEnv:
    """Where an attempt runs and what it reports to."""

    sandbox: Sandbox
    meter: Meter
    recorder: Recorder
    mcp: ToolHub | None = None  # the stage's MCP servers' tools (SDK vendors)
    repo_map: RepoMap | None = None  # answers the repo_map tool
    edits: EditHistory = field(default_factory=EditHistory)  # for undo_edit, this attempt's
    verify: Callable[[str], str] | None = None  # answers run_tests: scope -> the verdict


@dataclass
class AgentOutcome:
    outcome: Outcome
    result: BaseModel | None = None
    text: str = ""
    detail: str = ""
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    tokens: int = 0  # charged against the caps: cache reads at their price share
    cost_usd: float = 0.0
    duration_s: float = 0.0
    # The cap the attempt crossed (outcome "stopped"): the caller records the attempt, then
    # stops the run with it.
    stopped: RunStopped | None = None
    # Who served the attempt's turns, in order (harness.pipeline.fallback): one entry, or two
    # when the stage's fallback took over.
    served: list[dict[str, Any]] = field(default_factory=list)

    def add_usage(self, usage: Usage, tokens: int, cost_usd: float) -> None:
        self.usage += usage
        self.tokens += tokens
        self.cost_usd += cost_usd


def run_attempt(task: AgentTask, env: AttemptEnv) -> AgentOutcome:
    """Run one attempt to its end. Raises only ``SandboxError``: a crossed cap ends the attempt
    ``stopped``, with what it spent so far and the ``RunStopped`` that ends the run."""
    started = time.monotonic()
    deadline = started + task.timeout
    out = AgentOutcome("no_result")
    env.recorder.event("attempt_start", stage=task.stage, label=task.label,
                   tier=task.attempt.tier, vendor=task.attempt.vendor.name,
                   model=task.attempt.model_id)
    before = env.sandbox.diff() if task.toolbox.read_only else None
    serving = Serving(task.attempt, deadline, stage=task.stage, label=task.label,
                      recorder=env.recorder)
    out.served = serving.served
    try:
        if task.attempt.vendor.surface == "cli":
            _cli(task, env, serving, out)
        else:
            _loop(task, env, serving, out)
    except VendorTimeoutError as exc:
        out.outcome, out.detail = "timed_out", str(exc)
    except VendorError as exc:
        out.outcome, out.detail = "error", str(exc)
    except RunStopped as stop:  # a cap: what the attempt spent so far still goes on record
        out.outcome, out.detail, out.stopped = "stopped", str(stop), stop
    if before is not None:
        _undo_writes(task, env, before, out)
    out.duration_s = round(time.monotonic() - started, 3)
    return out


def _undo_writes(task: AgentTask, env: AttemptEnv, before: str, out: AgentOutcome) -> None:
    """A read-only stage (no write tools) that changed the workspace anyway, through a command
    or its CLI's own tools: the change is undone and the attempt fails, so its answer is never
    taken as if the code were still what it read."""
    if env.sandbox.diff() == before:
        return
    restore(env.sandbox, before)
    env.recorder.event("read_only_violation", stage=task.stage, label=task.label)
    if out.outcome == "done":
        out.outcome, out.result = "error", None
        out.detail = (f"the {task.stage} stage may not change files, but the workspace changed "
                      "during its attempt; the change was undone and its answer discarded")


def _turn(task: AgentTask, env: AttemptEnv, serving: Serving, messages: list[Message],
          out: AgentOutcome) -> ModelResponse:
    """One model turn; sent again while the primary is down and a fallback waits."""
    tools = (*task.toolbox.specs, *(env.mcp.specs if env.mcp else ()))
    while True:
        request = ModelRequest(serving.settings(), task.system, serving.history(messages),
                               serving.call_deadline(), tools=tools, retries=serving.retries(),
                               queueing=serving.queueing)
        try:
            response = _call(task, env, request, out, serving.current)
        except VendorError as exc:
            serving.settle_queue()
            if serving.failed(exc, len(messages)):
                continue
            raise
        serving.settle_queue()
        serving.answered()
        return response


def _call(task: AgentTask, env: AttemptEnv, request: ModelRequest,
          out: AgentOutcome, attempt: Attempt) -> ModelResponse:
    cli = attempt.vendor.surface == "cli"
    vendor = attempt.vendor.name
    try:
        response = attempt.vendor.complete(request, runner=env.sandbox)
    except VendorError as exc:
        env.recorder.exchange(task.stage, attempt.number, request, None, exc, vendor=vendor,
                              workspace=_session_workspace(env, cli, exc.workspace))
        if exc.spent is not None:  # a failed call's tokens count against the caps too
            _charge(attempt, env, out, exc.spent, exc.cost_usd)
        raise
    env.recorder.exchange(task.stage, attempt.number, request, response, vendor=vendor,
                          workspace=_session_workspace(env, cli, response.workspace))
    out.turns += 1
    _charge(attempt, env, out, response.usage, response.cost_usd)  # may stop the run here
    return response


def _charge(attempt: Attempt, env: AttemptEnv, out: AgentOutcome, usage: Usage,
            cost_usd: float) -> None:
    """``attempt``: the one that served the call (the fallback's price when it did)."""
    tokens = usage.charged(attempt.entry.price)
    out.add_usage(usage, tokens, cost_usd)
    env.meter.add(tokens, cost_usd)


def _session_workspace(env: AttemptEnv, cli: bool, replayed: str | None) -> str | None:
    """A CLI session edits the workspace itself, so what it left goes on record with the
    exchange; a replayed session's recorded workspace is put back here."""
    if not cli:
        return None
    now = env.sandbox.diff()
    if replayed is not None and now != replayed:
        restore(env.sandbox, replayed)
        now = env.sandbox.diff()
    return now


def _loop(task: AgentTask, env: AttemptEnv, serving: Serving, out: AgentOutcome) -> None:
    messages = [Message("user", task.prompt.text, stable_chars=task.prompt.stable_chars)]
    nudges = 0
    for _ in range(task.max_turns):
        messages = condense(messages)
        response = _turn(task, env, serving, messages, out)
        deadline = serving.deadline  # the fallback's own timeout may have moved it
        messages.append(response.as_message())
        out.text = response.text or out.text
        if not response.tool_calls:
            if task.text_is_result and response.text.strip():
                out.outcome = "done"
                out.result = _text_result(task, response.text)
                return
            if response.stop_reason == "max_tokens" or nudges >= NUDGES:
                out.outcome, out.detail = "no_result", "stopped without calling " + (
                    task.toolbox.terminal)
                return
            nudges += 1
            messages.append(Message("user", f"Call `{task.toolbox.terminal}` to finish."))
            continue
        results: list[ToolResult] = []
        for call in response.tool_calls:
            if call.name == task.toolbox.terminal:
                try:
                    out.result = task.result_model.model_validate(call.arguments)
                except ValidationError as exc:
                    results.append(ToolResult(call.id, _invalid(exc), is_error=True))
                    continue
                out.outcome = "done"
                env.recorder.event("tool", label=task.label, call=describe(call))
                return
            env.recorder.event("tool", label=task.label, call=describe(call))
            if env.mcp is not None and call.name in env.mcp.names:
                results.append(env.mcp.call(call, timeout=max(deadline - time.monotonic(), 1)))
            elif call.name == REPO_MAP and env.repo_map is not None:
                results.append(call_repo_map(env.repo_map, call))
            elif call.name == RUN_TESTS and env.verify is not None:
                scope = str(call.arguments.get("scope") or "affected")
                results.append(ToolResult(call.id, env.verify(
                    scope if scope in ("affected", "full") else "affected")))
            else:
                results.append(run_tool(env.sandbox, call, task.toolbox.names,
                                        deadline=deadline, edits=env.edits))
        messages.append(Message("user", tool_results=tuple(results)))
    out.outcome, out.detail = "turn_limit", f"no result after {task.max_turns} turns"


def _cli(task: AgentTask, env: AttemptEnv, serving: Serving, out: AgentOutcome) -> None:
    """One CLI session. A stage whose result is its work (the Coder) just ends with a summary;
    the others must answer with JSON matching their result schema."""
    schema = None if task.text_is_result else task.result_model.model_json_schema()
    prompt = task.prompt.text if schema is None else (
        f"{task.prompt.text}\n\nWhen you are done, answer with one JSON object matching this "
        f"schema and nothing else:\n{json.dumps(schema)}")
    request = ModelRequest(task.attempt.settings(), task.system, (Message("user", prompt),),
                           serving.deadline, output_schema=schema,
                           mcp_servers=task.mcp_servers, read_only=task.toolbox.read_only)
    response = _call(task, env, request, out, task.attempt)
    serving.answered()
    out.text = response.text
    if schema is None:
        out.outcome, out.result = "done", _text_result(task, response.text or "(no summary)")
        return
    try:
        out.result = task.result_model.model_validate(_json_in(response.text))
        out.outcome = "done"
    except (ValidationError, ValueError) as exc:
        out.outcome, out.detail = "no_result", f"the answer is not a valid result: {exc}"


def _text_result(task: AgentTask, text: str) -> BaseModel:
    return task.result_model.model_validate({"summary": text.strip()[:4000]})


def _json_in(text: str) -> object:
    """The JSON object in a final answer (bare, or in a fenced block)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the answer")
    return json.loads(text[start:end + 1])


def _invalid(exc: ValidationError) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}"
                         for e in exc.errors()[:10])
    return f"invalid arguments: {problems}. Fix them and call the tool again."
