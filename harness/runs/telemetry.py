"""A run as OpenTelemetry spans (docs/telemetry.md), named and attributed as the GenAI semantic
conventions say: the run, each stage attempt (``invoke_agent``), each model call (``chat``),
each tool call (``execute_tool``) and each test run inside its attempt.

The spans are built from what the run records anyway, so the pipeline knows nothing of them:
``TracedRecorder`` is the run's ``RunRecorder`` that also traces. Attributes hold names, models,
counts, costs, outcomes and durations only — never a prompt, an answer, a tool's arguments, a
file's content or a key.

The module's top imports only the OpenTelemetry API, and nothing imports the module unless a
run is traced; the SDK and the OTLP exporter load in ``otlp_tracing``, which the CLI calls when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the edge: the SDK reads its own variables there)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from harness import __version__
from harness.pipeline.events import AttemptRecord
from harness.runs.record import RunRecorder
from harness.vendors.common import redact
from harness.vendors.types import ModelRequest, ModelResponse, Usage

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

# gen_ai.provider.name (and the older gen_ai.system) for each catalog provider
PROVIDERS = {"anthropic": "anthropic", "google": "gcp.gemini"}
FAILED = ("error", "timed_out", "stopped")  # attempt outcomes that are span errors


@dataclass
class _Open:
    """The attempt being traced: its span, and when the last traced thing in it ended (the
    next model call or test run started then)."""

    span: Span
    started: int  # ns
    mark: int  # ns
    tool: Span | None = None
    tool_started: int = 0  # ns
    # Test runs after the agent's turns, drawn at the attempt's record: only then is it known
    # when the agent part ended (and with it the last tool call, the terminal one).
    tests: list[tuple[str, bool, int]] = field(default_factory=list)

    def close_tool(self, at: int) -> None:
        if self.tool is not None:
            self.tool.end(end_time=max(at, self.tool_started))
            self.tool = None
        self.mark = max(self.mark, at)


class TracedRecorder(RunRecorder):
    """A ``RunRecorder`` that also opens and ends the run's spans as it records (the pipeline
    runs one attempt at a time, so one attempt is open at most)."""

    def __init__(self, run_dir: Path, state: dict[str, Any], *, tracer: Tracer,
                 listener: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self._tracer = tracer
        ticket = state.get("ticket", {}).get("id", "")
        self._run = tracer.start_span(f"run {ticket}", attributes={
            "harness.run_id": str(state.get("run_id", "")), "harness.ticket": str(ticket)})
        self._attempt: _Open | None = None
        super().__init__(run_dir, state, listener=listener)

    def event(self, kind: str, **data: Any) -> None:
        super().event(kind, **data)
        now = time.time_ns()
        if kind == "attempt_start":
            self._end_attempt(now)
            self._start_attempt(data, now)
        elif kind == "tool" and self._attempt is not None:
            self._start_tool(self._attempt, str(data.get("call", "")), now)
        elif kind == "tests" and self._attempt is not None:
            self._attempt.tests.append((str(data.get("scope", "")), bool(data.get("passed")), now))

    def exchange(self, stage: str, attempt: int, request: ModelRequest,
                 response: ModelResponse | None, error: BaseException | None = None, *,
                 workspace: str | None = None, vendor: str | None = None) -> str:
        name = super().exchange(stage, attempt, request, response, error, workspace=workspace,
                                vendor=vendor)
        now = time.time_ns()
        current = self._attempt
        start = now - int(response.latency_s * 1e9) if response is not None else (
            current.mark if current is not None else now)
        if current is not None:
            current.span.set_attribute("harness.attempt", attempt)
            current.close_tool(start)
            start = max(start, current.started)
        provider = PROVIDERS.get(request.settings.entry.provider, request.settings.entry.provider)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
            "gen_ai.system": provider, "gen_ai.request.model": request.settings.model_id,
            "gen_ai.request.max_tokens": request.settings.max_output_tokens,
            "harness.stage": stage, "harness.attempt": attempt, "harness.exchange": name}
        if response is not None:
            attributes.update(_usage(response.usage), **{
                "gen_ai.response.model": response.model_id,
                "gen_ai.response.finish_reasons": [response.stop_reason],
                "harness.cost_usd": response.cost_usd})
            if response.request_id:
                attributes["gen_ai.response.id"] = response.request_id
        span = self._tracer.start_span(f"chat {request.settings.model_id}", self._parent(),
                                       attributes=attributes, start_time=start)
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, redact(str(error))[:200]))
        span.end(end_time=now)
        if current is not None:
            current.mark = now
        return name

    def attempt(self, record: AttemptRecord) -> None:
        super().attempt(record)
        current, self._attempt = self._attempt, None
        if current is None:
            return
        now = time.time_ns()
        current.close_tool(min(now, current.started + int(record.duration_s * 1e9)))
        self._test_spans(current)
        current.span.set_attributes({
            **_usage(record.usage), "harness.attempt": record.attempt,
            "harness.outcome": record.outcome, "harness.turns": record.turns,
            "harness.tokens": record.tokens, "harness.cost_usd": record.cost_usd})
        if record.outcome in FAILED:  # the outcome only: a detail may quote the model's answer
            current.span.set_status(Status(StatusCode.ERROR, record.outcome))
        current.span.end(end_time=now)

    def finish(self, status: str, **fields: Any) -> None:
        super().finish(status, **fields)
        self._end_attempt(time.time_ns())
        totals = self.state.get("totals", {})
        self._run.set_attributes({
            "harness.status": status, "harness.tokens": int(totals.get("tokens", 0)),
            "harness.cost_usd": float(totals.get("cost_usd", 0.0)),
            **_usage(Usage(*(int(totals.get(k, 0)) for k in (
                "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "thinking_tokens"))))})
        if status == "error":
            self._run.set_status(Status(StatusCode.ERROR,
                                        redact(str(fields.get("error", "")))[:200]))
        elif status == "resolved":
            self._run.set_status(Status(StatusCode.OK))
        self._run.end()

    def _parent(self) -> Any:
        return trace.set_span_in_context(
            self._attempt.span if self._attempt is not None else self._run)

    def _start_attempt(self, data: dict[str, Any], now: int) -> None:
        stage = str(data.get("stage", ""))
        span = self._tracer.start_span(f"invoke_agent {stage}", self._parent(), attributes={
            "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": stage,
            "gen_ai.request.model": str(data.get("model", "")), "harness.stage": stage,
            "harness.label": str(data.get("label", "")), "harness.tier": str(data.get("tier")),
            "harness.vendor": str(data.get("vendor", ""))}, start_time=now)
        self._attempt = _Open(span, now, now)

    def _end_attempt(self, now: int) -> None:
        """An attempt that never reached its record (the run broke off inside it)."""
        if self._attempt is not None:
            self._attempt.close_tool(now if not self._attempt.tests else self._attempt.mark)
            self._test_spans(self._attempt)
            self._attempt.span.set_status(Status(StatusCode.ERROR, "the run ended inside it"))
            self._attempt.span.end(end_time=now)
            self._attempt = None

    def _start_tool(self, current: _Open, call: str, now: int) -> None:
        """A tool call runs from its event until the next model call (or the attempt's end):
        the events log has its name (``describe``: ``name({args})``); the arguments stay out."""
        current.close_tool(now)
        name = call.partition("(")[0]
        current.tool_started = now
        current.tool = self._tracer.start_span(f"execute_tool {name}", self._parent(),
                                               attributes={"gen_ai.operation.name": "execute_tool",
                                                           "gen_ai.tool.name": name},
                                               start_time=now)

    def _test_spans(self, current: _Open) -> None:
        """Each test run from the end of what came before it to its event."""
        inside = trace.set_span_in_context(current.span)
        for scope, passed, ended in current.tests:
            span = self._tracer.start_span(f"tests {scope}", inside, attributes={
                "harness.tests.scope": scope, "harness.tests.passed": passed},
                start_time=min(current.mark, ended))
            span.end(end_time=ended)
            current.mark = max(current.mark, ended)
        current.tests.clear()


def _usage(usage: Usage) -> dict[str, int]:
    """The GenAI usage attributes. ``gen_ai.usage.input_tokens`` counts every input token, cached
    or not, as the conventions ask; run.json's ``input_tokens`` is the uncached part only."""
    return {"gen_ai.usage.input_tokens": usage.input_tokens + usage.cache_read_tokens
            + usage.cache_write_tokens,
            "gen_ai.usage.output_tokens": usage.output_tokens,
            "gen_ai.usage.cache_read.input_tokens": usage.cache_read_tokens,
            "gen_ai.usage.cache_creation.input_tokens": usage.cache_write_tokens,
            "gen_ai.usage.reasoning.output_tokens": usage.thinking_tokens}


@contextmanager
def otlp_tracing(exporter: SpanExporter | None = None) -> Iterator[Tracer]:
    """A tracer whose spans go out in batches to an OTLP/HTTP receiver (by default the one the
    ``OTEL_EXPORTER_OTLP_*`` variables name, read by the SDK); every span is sent before this
    returns. Only the CLI calls it: loading the SDK and the exporter costs startup time."""
    # (imported here: the SDK and the exporter load only when a run is traced)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    provider = TracerProvider(resource=Resource.create(
        {"service.name": "harness", "service.version": __version__}))
    provider.add_span_processor(BatchSpanProcessor(exporter or OTLPSpanExporter()))
    try:
        yield provider.get_tracer("harness", __version__)
    finally:
        provider.shutdown()  # flushes what is still queued
