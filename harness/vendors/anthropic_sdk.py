"""Anthropic through its official Python SDK (Messages API).

The SDK is imported on the first call, never at import time. Every call streams: the SDK refuses
non-streaming calls whose max_tokens could outlast its own timeout, and a stream lets the
deadline cut a stalled answer. The SDK's retries are off; ``common.within_deadline`` retries
instead, so retries never outlive the stage's deadline.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from harness.config.schema import ModelEntry, Tier
from harness.vendors import common
from harness.vendors.base import Vendor, level_problem, pick_level, thinking_budget
from harness.vendors.errors import (
    ContextTooLongError,
    MalformedResponseError,
    RateLimitedError,
    RefusalError,
    TransientVendorError,
    VendorAuthError,
    VendorError,
    VendorTimeoutError,
)
from harness.vendors.types import (
    CallSettings,
    CommandRunner,
    Message,
    ModelRequest,
    ModelResponse,
    NativeControl,
    OptionProblem,
    StopReason,
    ToolCall,
    Usage,
    VendorOptions,
    concept,
)

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message as SdkMessage

Effort = Literal["low", "medium", "high", "xhigh", "max"]


class AnthropicOptions(VendorOptions):
    effort: Effort | None = concept("reasoning", "output_config.effort, pinned for every attempt")
    thinking_budget_tokens: Annotated[int, Field(ge=1024)] | None = concept(
        "reasoning", "thinking.budget_tokens, pinned (models without effort)")
    temperature: Annotated[float, Field(ge=0, le=1)] | None = concept("sampling", "temperature")
    top_p: Annotated[float, Field(gt=0, le=1)] | None = concept("sampling", "nucleus sampling")
    top_k: Annotated[int, Field(gt=0)] | None = concept("sampling", "top-k sampling")
    prompt_caching: bool | None = concept(
        "caching", "cache_control on the stable prefix (default on)")


def anthropic_control(model: ModelEntry, tier: Tier, effort: str | None, budget: int | None,
                      max_output_tokens: int, *, effort_name: str, budget_name: str
                      ) -> NativeControl | None:
    """Shared by the SDK and the claude CLI: the same models, spelled as a field or a flag."""
    if effort is not None:
        return NativeControl(effort_name, effort, pinned=True)
    if budget is not None:
        return NativeControl(budget_name, budget, pinned=True)
    if model.reasoning == "effort":
        level = pick_level(tier, model.effort_levels)
        return NativeControl(effort_name, level) if level else None
    if model.reasoning == "thinking_budget":
        return NativeControl(budget_name, thinking_budget(tier, model, max_output_tokens,
                                                          below_max_tokens=True))
    return None


def anthropic_option_problems(model_id: str, model: ModelEntry, effort: str | None,
                              budget: int | None, *, effort_key: str,
                              budget_key: str) -> list[OptionProblem]:
    problems = level_problem(effort_key, effort, model_id, model.effort_levels)
    if effort is not None and model.reasoning == "thinking_budget":
        problems = [OptionProblem(effort_key, f"{model_id} has no effort control",
                                  f"it is steered by a thinking budget: use {budget_key}")]
    if budget is not None and model.reasoning == "effort":
        problems.append(OptionProblem(budget_key, f"{model_id} is steered by effort, not a "
                                      "thinking budget", f"use {effort_key}: low … max"))
    if effort is not None and budget is not None:
        problems.append(OptionProblem(budget_key, f"both {effort_key} and {budget_key} are set",
                                      "keep one"))
    return problems


class AnthropicVendor(Vendor):
    name = "anthropic"
    provider = "anthropic"
    surface = "sdk"
    summary = "Anthropic Messages API through the official SDK"
    prompt_caching = True
    default_api_key_env = "ANTHROPIC_API_KEY"
    options = AnthropicOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, AnthropicOptions)
        return anthropic_control(model, tier, options.effort, options.thinking_budget_tokens,
                                 max_output_tokens, effort_name="output_config.effort",
                                 budget_name="thinking.budget_tokens")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, AnthropicOptions)
        return anthropic_option_problems(model_id, model, options.effort,
                                         options.thinking_budget_tokens, effort_key="effort",
                                         budget_key="thinking_budget_tokens")

    def cache_plan(self, entry: ModelEntry, options: VendorOptions, timeout_s: float) -> str:
        assert isinstance(options, AnthropicOptions)
        if options.prompt_caching is False:
            return "off (vendor_options.prompt_caching: false)"
        p = entry.price
        return (f"breakpoints on tools+system, the ticket context and the last two turns "
                f"(5-minute writes ${p.cache_write:g}, reads ${p.cache_read:g} per Mtok; "
                f"prefixes under {entry.cache_min_tokens or 1024:,} tokens are not cached)")

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        settings = request.settings
        key = common.api_key(self.name, settings.api_key_env)  # before any request is made
        try:
            import anthropic  # noqa: PLC0415 - the SDK loads on the first call only
        except ImportError as exc:
            raise VendorError(self.name, "the anthropic SDK is not installed: run "
                              "`pip install 'anthropic>=2.0'` in harness's environment") from exc
        params = request_params(request, self.name)
        base_url = settings.base_url or os.environ.get("ANTHROPIC_BASE_URL")
        started = time.monotonic()

        def attempt(left: float) -> tuple[SdkMessage, str | None]:
            if left <= 0:
                raise VendorTimeoutError(self.name, "the stage deadline passed before the call")
            try:
                # One client per attempt: its timeout is this attempt's share of the deadline.
                client = anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0,
                                             timeout=left)
                return _stream(client, params, request.end, self.name)
            except (VendorError, common.RetryAfter):
                raise
            except Exception as exc:
                fault = _fault(exc, self.name, settings, request.end)
                if fault is None:
                    raise
                raise fault from exc

        message, request_id = common.within_deadline(request, attempt)
        return _response(message, request_id, request, time.monotonic() - started, self.name)


# Ephemeral (5-minute) cache breakpoints: the API caches the prefix (tools, system, messages, in
# that order) up to and including each marked block, at most four per request; a later request
# reads the longest cached prefix that ends at one of its own breakpoints or at one of the 20
# blocks before it (platform.claude.com "Prompt caching"). Where they go: docs/caching.md.
EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
# Structured output is a forced tool call rather than ``output_config.format``: tool input
# schemas work on every Claude model the catalog lists and sit beside the stage's own tools,
# while the structured-output format is newer and not accepted by every model.
RESPOND_TOOL = "respond"
_STOPS: dict[str, StopReason] = {
    "end_turn": "end_turn", "stop_sequence": "end_turn", "tool_use": "tool_use",
    "max_tokens": "max_tokens", "model_context_window_exceeded": "max_tokens"}
_SAMPLING = ("temperature", "top_p", "top_k")
_UNMARKABLE = ("thinking", "redacted_thinking")


def request_params(request: ModelRequest, vendor: str) -> dict[str, Any]:
    """The keyword arguments of ``client.messages.stream`` for one request."""
    settings = request.settings
    options = settings.options
    assert isinstance(options, AnthropicOptions)
    caching = options.prompt_caching is not False
    messages = [_message(m) for m in request.messages]
    params: dict[str, Any] = {"model": settings.model_id,
                              "max_tokens": settings.max_output_tokens, "messages": messages}
    system = _system(request.system, request.cacheable_system_chars, caching)
    if system:
        params["system"] = system
    control = settings.control
    if control is not None and control.name == "output_config.effort":
        params["output_config"] = {"effort": str(control.value)}
    elif control is not None and control.name == "thinking.budget_tokens":
        params["thinking"] = {"type": "enabled", "budget_tokens": int(control.value)}
    elif control is not None:
        raise VendorError(vendor, f"cannot send the control `{control}` to the Messages API")
    tools: list[dict[str, Any]] = [
        {"name": t.name, "description": t.description, "input_schema": dict(t.input_schema)}
        for t in request.tools]
    if request.output_schema is not None:
        tools.append({"name": RESPOND_TOOL, "input_schema": dict(request.output_schema),
                      "description": "Give your final answer as this tool's input."})
        # The API refuses a named forced tool while thinking is on; "any" still forces a call.
        params["tool_choice"] = ({"type": "any"} if "thinking" in params
                                 else {"type": "tool", "name": RESPOND_TOOL})
    if tools:
        if caching and not system:  # else the system's breakpoint caches the tools before it
            tools[-1] = {**tools[-1], "cache_control": EPHEMERAL}
        params["tools"] = tools
    if caching:
        for block in _rolling(request.messages, messages):
            block["cache_control"] = EPHEMERAL
    # This SDK's methods have no sampling parameters; the API still accepts them in the body.
    sampling = {k: v for k in _SAMPLING if (v := getattr(options, k)) is not None}
    if sampling:
        params["extra_body"] = sampling
    return params


def _rolling(messages: tuple[Message, ...], wire: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation's breakpoints (the system's is the first of four): the end of the
    stable ticket context, which every attempt of the stage shares; the end of the previous
    request, read whole even when its turn added more than the 20 blocks the lookback covers;
    and the end of this request, written for the next turn to read."""
    picked: list[dict[str, Any]] = []
    first = messages[0] if messages else None
    if first is not None and first.role == "user" and first.stable_chars > 0 and first.text:
        picked.append(wire[0]["content"][len(messages[0].tool_results)])
    last_answer = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=0)
    if last_answer > 0:
        picked.append(wire[last_answer - 1]["content"][-1])
    if wire:
        picked.append(wire[-1]["content"][-1])
    unique = list({id(b): b for b in picked}.values())
    return [b for b in unique if b.get("type") not in _UNMARKABLE
            and not (b.get("type") == "text" and not b.get("text"))]


def _system(text: str, cacheable: int | None, caching: bool) -> list[dict[str, Any]]:
    if not text:
        return []
    cut = len(text) if cacheable is None else max(0, min(cacheable, len(text)))
    if not caching or cut == 0:
        return [{"type": "text", "text": text}]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text[:cut],
                                     "cache_control": EPHEMERAL}]
    if cut < len(text):
        blocks.append({"type": "text", "text": text[cut:]})
    return blocks


def _message(message: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if message.role == "user":
        # The API wants tool results first in the user turn that answers the tool calls.
        blocks += [{"type": "tool_result", "tool_use_id": r.call_id, "content": r.content,
                    "is_error": r.is_error} for r in message.tool_results]
        blocks += [{"type": "text", "text": t} for t in _split(message)]
        if not blocks:
            blocks.append({"type": "text", "text": ""})
    else:
        blocks += [dict(b) for b in message.vendor_state]  # signed thinking goes back first
        if message.text or not message.tool_calls:
            blocks.append({"type": "text", "text": message.text})
        blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)}
                   for c in message.tool_calls]
    return {"role": message.role, "content": blocks}


def _split(message: Message) -> list[str]:
    """A user turn's text: the stable context as a block of its own, then the rest."""
    cut = min(message.stable_chars, len(message.text))
    return [t for t in (message.text[:cut], message.text[cut:]) if t]


@contextmanager
def _closed_at(deadline: float, stream: Any) -> Iterator[None]:
    """Close the stream at the deadline: the SDK's timeout is per read, so a server that keeps
    sending pings would otherwise hold the call open past it."""
    timer = threading.Timer(max(deadline - time.monotonic(), 0.0), stream.close)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _stream(client: anthropic.Anthropic, params: dict[str, Any], deadline: float,
            vendor: str) -> tuple[SdkMessage, str | None]:
    with client.messages.stream(**params) as stream, _closed_at(deadline, stream):
        kind = stream.response.headers.get("content-type", "")
        if "text/event-stream" not in kind:
            raise MalformedResponseError(vendor, f"expected an event stream, got `{kind}`: "
                                         + common.redact(stream.response.read()[:200]
                                                         .decode("utf-8", "replace")))
        started = finished = False
        for event in stream:
            if not started and event.type != "message_start":
                raise MalformedResponseError(vendor, f"`{event.type}` before message_start")
            started, finished = True, finished or event.type == "message_stop"
        if not finished:
            if time.monotonic() >= deadline:
                raise VendorTimeoutError(vendor, "no complete answer before the stage deadline")
            # A stream cut before message_stop is a dropped connection, not a bad format: the
            # same request usually succeeds when sent again, so it is retried.
            raise common.RetryAfter(TransientVendorError(
                vendor, "the answer stream ended before message_stop"))
        return stream.get_final_message(), stream.request_id


def _fault(exc: Exception, vendor: str, settings: CallSettings,
           deadline: float) -> VendorError | common.RetryAfter | None:
    """The harness error for an SDK or transport exception (``None``: not ours to map)."""
    import anthropic  # noqa: PLC0415 - loaded by complete() already
    import httpx2  # noqa: PLC0415 - the SDK's transport, loaded with it

    detail = common.redact(str(exc))
    late = time.monotonic() >= deadline - 0.05
    transport = (anthropic.APIConnectionError, httpx2.TransportError, httpx2.StreamError)
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException) or (
            late and isinstance(exc, transport)):
        return VendorTimeoutError(vendor, "no answer before the stage deadline")
    if isinstance(exc, anthropic.APIStatusError):
        return _status_fault(exc, vendor, settings.api_key_env)
    if isinstance(exc, transport):
        return common.RetryAfter(TransientVendorError(vendor, f"connection failed: {detail}"))
    if isinstance(exc, anthropic.APIResponseValidationError | ValueError | TypeError | KeyError
                  | IndexError | RuntimeError | AssertionError):
        # The SDK's parser rejected the body or the event order: not the documented format.
        return MalformedResponseError(vendor, f"unreadable answer: {detail[:300]}")
    if isinstance(exc, anthropic.AnthropicError):  # e.g. the client refused its own settings
        return VendorError(vendor, detail)
    return None


def _status_fault(exc: anthropic.APIStatusError, vendor: str,
                  key_env: str) -> VendorError | common.RetryAfter:
    # Mid-stream ``event: error`` arrives on a 200 response, so the error type decides first.
    status, kind = exc.status_code, str(exc.type or "")
    detail = common.redact(exc.api_message or exc.message)
    where = f" (request {exc.request_id})" if exc.request_id else ""
    message = f"HTTP {status} {kind}: {detail}{where}"
    if status in (401, 403) or kind in ("authentication_error", "permission_error"):
        return VendorAuthError(vendor, f"the key in {key_env} was refused: {message}")
    if status == 429 or kind == "rate_limit_error":
        return common.RetryAfter(RateLimitedError(vendor, message), _retry_after(exc))
    if "prompt is too long" in detail.lower() or status == 413:
        return ContextTooLongError(vendor, message)
    if status >= 500 or status == 408 or kind in ("overloaded_error", "api_error"):
        return common.RetryAfter(TransientVendorError(vendor, message), _retry_after(exc))
    return VendorError(vendor, message)


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    try:
        return max(float(exc.response.headers.get("retry-after", "")), 0.0)
    except ValueError:
        return None


def _response(message: SdkMessage, request_id: str | None, request: ModelRequest,
              latency: float, vendor: str) -> ModelResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    for block in message.content:
        if block.type in ("thinking", "redacted_thinking"):
            thinking.append(block.model_dump(exclude_none=True))
        elif block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            if not isinstance(block.input, Mapping):
                raise MalformedResponseError(vendor, f"tool `{block.name}` input is not an object")
            calls.append(ToolCall(block.id, block.name, dict(block.input)))
    text, raw = "".join(texts), message.stop_reason
    if raw == "refusal":
        said = common.redact(text[:200]) or "no explanation given"
        raise RefusalError(vendor, f"the model refused to answer: {said}")
    stop = _STOPS.get(raw or "", "error")
    answer = next((c for c in calls if c.name == RESPOND_TOOL), None)
    if request.output_schema is not None and answer is not None:
        text = json.dumps(answer.arguments)
        calls = [c for c in calls if c is not answer]
        stop = "end_turn" if stop == "tool_use" and not calls else stop
    sdk_usage = message.usage
    details = sdk_usage.output_tokens_details
    usage = Usage(input_tokens=sdk_usage.input_tokens, output_tokens=sdk_usage.output_tokens,
                  cache_read_tokens=sdk_usage.cache_read_input_tokens or 0,
                  cache_write_tokens=sdk_usage.cache_creation_input_tokens or 0,
                  thinking_tokens=details.thinking_tokens if details else 0)
    settings = request.settings
    return ModelResponse(text, tuple(calls), stop, usage, usage.cost(settings.entry.price),
                         latency, settings.model_id, request_id, raw_stop_reason=raw,
                         vendor_state=tuple(thinking))
