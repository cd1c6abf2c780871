"""Google Gemini through the google-genai SDK.

The SDK is imported on the first call, never at module import. Each attempt streams
(``generate_content_stream``) on a worker thread that the caller stops waiting for at the
deadline: httpx's timeout is per read, so a server that accepts and then stalls or trickles would
otherwise hold the call past it. SDK retries are off; ``common.within_deadline`` owns them.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import os
import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from harness.config.schema import ModelEntry, Tier
from harness.vendors import common, google_cache
from harness.vendors.base import Vendor, level_problem, pick_level, thinking_budget
from harness.vendors.errors import (
    MalformedResponseError,
    RefusalError,
    TransientVendorError,
    VendorError,
)
from harness.vendors.google_call import Call, tools
from harness.vendors.types import (
    CommandRunner,
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

if TYPE_CHECKING:  # the SDK is imported on the first call, never by a config check
    from google.genai import types as gt

ThinkingLevel = Literal["minimal", "low", "medium", "high"]


class GoogleOptions(VendorOptions):
    thinking_level: ThinkingLevel | None = concept(
        "reasoning", "thinking_config.thinking_level, pinned (Gemini 3 family)")
    thinking_budget: Annotated[int, Field(ge=-1)] | None = concept(
        "reasoning", "thinking_config.thinking_budget, pinned (Gemini 2.5 family; -1 = dynamic)")
    temperature: Annotated[float, Field(ge=0, le=2)] | None = concept("sampling", "temperature")
    top_p: Annotated[float, Field(gt=0, le=1)] | None = concept("sampling", "nucleus sampling")
    top_k: Annotated[int, Field(gt=0)] | None = concept("sampling", "top-k sampling")
    context_cache: google_cache.ContextCache | None = concept(
        "caching", "auto (default): implicit, plus an explicit cachedContents once an attempt "
        "has run long enough to pay for it; implicit; or explicit from the first request")


def gemini_control(model: ModelEntry, tier: Tier, level: str | None, budget: int | None, *,
                   level_name: str, budget_name: str) -> NativeControl | None:
    """Shared by the SDK and the gemini CLI (which passes the same thinkingConfig)."""
    if level is not None:
        return NativeControl(level_name, level, pinned=True)
    if budget is not None:
        return NativeControl(budget_name, budget, pinned=True)
    if model.reasoning == "thinking_level":
        picked = pick_level(tier, model.thinking_levels)
        return NativeControl(level_name, picked) if picked else None
    if model.reasoning == "thinking_budget":
        return NativeControl(budget_name, thinking_budget(tier, model, model.max_output_tokens,
                                                          below_max_tokens=False))
    return None


def gemini_option_problems(model_id: str, model: ModelEntry, level: str | None,
                           budget: int | None, *, level_key: str,
                           budget_key: str) -> list[OptionProblem]:
    problems = level_problem(level_key, level, model_id, model.thinking_levels)
    if level is not None and model.reasoning == "thinking_budget":
        problems = [OptionProblem(level_key, f"{model_id} has no thinking_level (Gemini 3 only)",
                                  f"it takes a token budget: use {budget_key}")]
    if budget is not None and model.reasoning == "thinking_level":
        problems.append(OptionProblem(budget_key, f"{model_id} is steered by thinking_level",
                                      f"use {level_key}: " + ", ".join(model.thinking_levels)))
    rng = model.thinking_budget_range
    if budget is not None and budget != -1 and rng and not rng[0] <= budget <= rng[1]:
        problems.append(OptionProblem(budget_key, f"{budget} is outside {model_id}'s range",
                                      f"use {rng[0]}..{rng[1]}, or -1 for dynamic"))
    return problems


class GoogleVendor(Vendor):
    name = "google"
    provider = "google"
    surface = "sdk"
    summary = "Gemini API through the google-genai SDK"
    prompt_caching = True  # implicit caching: repeated prefixes are billed at the cached rate
    default_api_key_env = "GEMINI_API_KEY"
    options = GoogleOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, GoogleOptions)
        return gemini_control(model, tier, options.thinking_level, options.thinking_budget,
                              level_name="thinking_config.thinking_level",
                              budget_name="thinking_config.thinking_budget")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, GoogleOptions)
        return gemini_option_problems(model_id, model, options.thinking_level,
                                      options.thinking_budget, level_key="thinking_level",
                                      budget_key="thinking_budget")

    def cache_plan(self, entry: ModelEntry, options: VendorOptions, timeout_s: float) -> str:
        assert isinstance(options, GoogleOptions)
        return google_cache.describe(entry, options.context_cache, timeout_s)

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        started = time.monotonic()
        s = request.settings
        assert isinstance(s.options, GoogleOptions)
        names = tuple(dict.fromkeys((s.api_key_env, "GEMINI_API_KEY", "GOOGLE_API_KEY")))
        key = common.api_key(self.name, names[0], *names[1:])
        key_env = next(n for n in names if os.environ.get(n) == key)
        genai, types, errors = _sdk(self.name)
        call = Call(self.name, request, key, key_env, errors)
        digest = google_cache.prefix_digest(request)
        handle = google_cache.live_handle(request, digest)
        made: tuple[google_cache.Handle, int] | None = None
        if handle is None and google_cache.wanted(request, s.options.context_cache):
            made = call.create_cache(genai, types, digest)
            handle = made[0] if made else None

        name = handle.name if handle else None
        wire = {name: (self._contents(types, request, cached=name),
                       _config(types, request, cached=name))}

        def once(left: float) -> ModelResponse:
            # An explicit cache that expired under us: implicit caching still applies.
            key = None if call.cache_lost else name
            if key not in wire:
                wire[key] = (self._contents(types, request), _config(types, request))
            chunks = call.stream(genai, types, *wire[key], left)
            return self._response(chunks, request, started)

        response = _with_cache(common.within_deadline(request, once), request, made)
        if call.cache_lost and handle is not None:  # tell the next turns it is gone
            gone = dataclasses.replace(handle, expires_at=0.0)
            response = dataclasses.replace(response, vendor_state=(gone.state(),))
        return response

    def _contents(self, types: Any, request: ModelRequest,
                  cached: str | None = None) -> list[gt.Content]:
        """Messages as Gemini contents: assistant turns are role ``model`` with functionCall
        parts; tool results go back as functionResponse parts of a user turn. The first turn's
        stable context is a part of its own (left out when an explicit cache holds it)."""
        names = {c.id: c.name for m in request.messages for c in m.tool_calls}
        gemini3 = request.settings.entry.reasoning == "thinking_level"
        out: list[gt.Content] = []
        for m in request.messages:
            parts: list[gt.Part] = []
            if m.role == "assistant":
                parts += [types.Part(text=m.text)] if m.text else []
                for i, c in enumerate(m.tool_calls):
                    # Gemini 3 refuses a replayed call without the signature it came with.
                    sig = (base64.b64decode(c.vendor_state) if c.vendor_state else
                           _SKIP_SIGNATURE if gemini3 and i == 0 else None)
                    parts.append(types.Part(function_call=types.FunctionCall(
                        id=_wire_id(c.id), name=c.name, args=dict(c.arguments)),
                        thought_signature=sig))
            else:
                for r in m.tool_results:
                    if r.call_id not in names:
                        raise VendorError(self.name, f"tool result for unknown call {r.call_id}")
                    parts.append(types.Part(function_response=types.FunctionResponse(
                        id=_wire_id(r.call_id), name=names[r.call_id],
                        response={"error" if r.is_error else "output": r.content})))
                cut = min(m.stable_chars, len(m.text)) if m is request.messages[0] else 0
                texts = [] if cached and cut else [m.text[:cut]]
                parts += [types.Part(text=t) for t in (*texts, m.text[cut:]) if t]
            if parts:
                out.append(types.Content(role="model" if m.role == "assistant" else "user",
                                         parts=parts))
        return out

    def _response(self, chunks: list[gt.GenerateContentResponse], request: ModelRequest,
                  started: float) -> ModelResponse:
        texts: list[str] = []
        calls: list[ToolCall] = []
        finish = blocked = response_id = None
        meta = None
        for chunk in chunks:
            response_id = response_id or chunk.response_id
            meta = chunk.usage_metadata or meta
            if chunk.prompt_feedback and chunk.prompt_feedback.block_reason:
                blocked = _enum(chunk.prompt_feedback.block_reason)
            cand = chunk.candidates[0] if chunk.candidates else None
            if cand is None:
                continue
            finish = _enum(cand.finish_reason) if cand.finish_reason else finish
            for part in (cand.content.parts or []) if cand.content else []:
                if part.function_call is not None:
                    calls.append(self._tool_call(part))
                elif part.text and not part.thought:
                    texts.append(part.text)
        if blocked:
            raise RefusalError(self.name, f"the prompt was blocked ({blocked})")
        if finish is None:
            # The body ended cleanly but before the final event: a cut, not a model answer.
            err = TransientVendorError(self.name, "the stream ended without a finishReason")
            raise common.RetryAfter(err)
        if finish in _REFUSALS:
            raise RefusalError(self.name, f"the answer was stopped: finishReason {finish}")
        if finish == "MALFORMED_FUNCTION_CALL":
            raise MalformedResponseError(self.name, "the model produced a malformed function "
                                         "call (finishReason MALFORMED_FUNCTION_CALL)")
        usage = _usage(meta)
        stop: StopReason = "tool_use" if calls else _STOPS.get(finish, "error")
        return ModelResponse("".join(texts), tuple(calls), stop,
                             usage, usage.cost(request.settings.entry.price),
                             time.monotonic() - started, request.settings.model_id,
                             response_id, raw_stop_reason=finish)

    def _tool_call(self, part: gt.Part) -> ToolCall:
        fc = part.function_call
        assert fc is not None
        if not fc.name:
            raise MalformedResponseError(self.name, "a functionCall part has no name")
        # The Gemini API often sends no id; ours are marked so they are never sent back.
        call_id = fc.id or f"{_GENERATED}{uuid.uuid4().hex[:16]}"
        signature = (base64.b64encode(part.thought_signature).decode()
                     if part.thought_signature else None)
        return ToolCall(call_id, fc.name, dict(fc.args or {}), signature)


_GENERATED = "hx-"
# Gemini's documented stand-in for a signature that was lost (base64url of these bytes).
_SKIP_SIGNATURE = base64.urlsafe_b64decode("skip_thought_signature_validator")
_REFUSALS = frozenset({"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
                       "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
                       "MODEL_ARMOR"})
_STOPS: dict[str, StopReason] = {"STOP": "end_turn", "MAX_TOKENS": "max_tokens"}
def _sdk(vendor: str) -> tuple[Any, Any, Any]:
    """google.genai, its types and errors: imported here, on the first call, so that loading
    this module (config checks) never needs the SDK."""
    try:
        return tuple(importlib.import_module(f"google.genai{sub}")  # type: ignore[return-value]
                     for sub in ("", ".types", ".errors"))
    except ImportError as exc:
        raise VendorError(vendor, f"the google-genai SDK is not installed ({exc}); "
                          "install it with `pip install google-genai`") from None


def _config(types: Any, request: ModelRequest,
            cached: str | None = None) -> gt.GenerateContentConfig:
    """The request's config; with ``cached``, the system instruction and tools are in that
    explicit cache and may not be sent again."""
    s = request.settings
    kw: dict[str, Any] = {
        "max_output_tokens": s.max_output_tokens,
        "automatic_function_calling": types.AutomaticFunctionCallingConfig(disable=True)}
    if cached:
        kw["cached_content"] = cached
    elif request.system:
        kw["system_instruction"] = request.system
    if request.tools and not cached:
        kw["tools"] = tools(types, request)
    if request.output_schema is not None:
        kw.update(response_mime_type="application/json",
                  response_json_schema=dict(request.output_schema))
    control = s.control
    if control is not None and control.name.endswith("thinking_level"):
        kw["thinking_config"] = types.ThinkingConfig(
            thinking_level=types.ThinkingLevel(str(control.value).upper()))
    elif control is not None and control.name.endswith("thinking_budget"):
        kw["thinking_config"] = types.ThinkingConfig(thinking_budget=int(control.value))
    for name in ("temperature", "top_p", "top_k"):
        value = getattr(s.options, name, None)
        if value is not None:
            kw[name] = value
    return types.GenerateContentConfig(**kw)  # type: ignore[no-any-return]


def _with_cache(response: ModelResponse, request: ModelRequest,
                made: tuple[google_cache.Handle, int] | None) -> ModelResponse:
    """A response whose request made an explicit cache: writing it is billed at the input
    price (the catalog's cache_write for Gemini), storing it by the hour; its handle travels
    in the transcript to the attempt's next requests."""
    if made is None:
        return response
    handle, tokens = made
    price = request.settings.entry.price
    usage = response.usage + Usage(cache_write_tokens=tokens)
    ttl = handle.expires_at - time.time()
    cost = usage.cost(price) + google_cache.storage_usd(price, tokens, ttl)
    return dataclasses.replace(response, usage=usage, cost_usd=cost,
                               vendor_state=(handle.state(),))


def _usage(meta: Any) -> Usage:
    """Cached tokens are part of promptTokenCount; thoughts are billed as output."""
    def n(name: str) -> int:
        return int(getattr(meta, name, None) or 0)

    cached, thoughts = n("cached_content_token_count"), n("thoughts_token_count")
    return Usage(input_tokens=max(n("prompt_token_count") - cached, 0),
                 output_tokens=n("candidates_token_count") + thoughts,
                 cache_read_tokens=cached, thinking_tokens=thoughts)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value))


def _wire_id(call_id: str) -> str | None:
    return None if call_id.startswith(_GENERATED) else call_id
