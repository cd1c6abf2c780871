"""How a claude-cli session ended, from what the watcher printed: a typed ``ModelResponse`` or
the ``VendorError`` that says why not."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.vendors.common import redact
from harness.vendors.errors import (
    CliCrashError,
    ContextTooLongError,
    MalformedResponseError,
    RateLimitedError,
    RefusalError,
    TransientVendorError,
    TruncatedError,
    VendorAuthError,
    VendorError,
    VendorTimeoutError,
)
from harness.vendors.types import (
    CallSettings,
    ExecOutcome,
    ModelRequest,
    ModelResponse,
    StopReason,
    Usage,
)

TAIL = 600  # characters of stderr or stray stdout quoted in an error
# The ``type`` of the last line the watcher prints (its VERDICT: sandbox/claude_watch.py).
VERDICT = "harness_watch"


@dataclass
class Seen:
    """The lines the watcher kept."""

    result: dict[str, Any] | None = None
    verdict: dict[str, Any] | None = None
    retries: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    """What the parser needs to know about the call beyond its output: the request, and what
    the session spent as the egress proxy counted it (never the CLI's own report)."""

    request: ModelRequest
    latency: float
    vendor: str
    usage: Usage
    cost_usd: float

    @property
    def settings(self) -> CallSettings:
        return self.request.settings


def read(stdout: str) -> Seen:
    seen = Seen()
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "result":
            seen.result = event
        elif kind == VERDICT:
            seen.verdict = event
        elif kind == "system" and event.get("subtype") == "api_retry":
            seen.retries.append(event)
    return seen


def outcome_response(outcome: ExecOutcome, call: Call) -> ModelResponse:
    """The answer of a finished session, or the error that ended it."""
    vendor = call.vendor
    if outcome.timed_out:
        raise VendorTimeoutError(vendor, "the claude CLI was still running at the stage deadline")
    if outcome.oom_killed:
        raise CliCrashError(vendor, "the claude CLI was killed: the sandbox ran out of memory")
    seen = read(outcome.stdout)
    if seen.verdict is None:
        raise CliCrashError(vendor, f"the session watcher died (exit {outcome.exit_code}): "
                            + _tail(outcome.stderr or outcome.stdout))
    fault = verdict_fault(seen.verdict, seen.retries, call)
    if fault is not None:
        raise fault
    if seen.result is None:
        code, stray = seen.verdict.get("exit_code"), str(seen.verdict.get("stdout_tail") or "")
        raise CliCrashError(vendor, f"claude exited ({code}) without a result: "
                            + _tail(outcome.stderr + stray))
    return result_response(seen.result, call)


def verdict_fault(verdict: Mapping[str, Any], retries: list[dict[str, Any]],
                  call: Call) -> VendorError | None:
    """The error for a session the watcher ended early (None: claude finished by itself)."""
    vendor, how = call.vendor, verdict.get("verdict")
    status, error = verdict.get("status"), verdict.get("error")
    if how == "auth":
        return VendorAuthError(vendor, f"the key in {call.settings.api_key_env} was refused: "
                               f"HTTP {status} ({error}); not retried")
    if how == "retry_past_deadline":
        what = f"HTTP {status} ({error})" if status else f"connection failed ({error})"
        message = (f"{what} on attempt {verdict.get('attempt')}; the CLI's next retry, in "
                   f"{verdict.get('delay_s', 0):.1f}s, would come after the stage deadline")
        return (RateLimitedError(vendor, message) if status == 429
                else TransientVendorError(vendor, message))
    if how == "deadline":
        last = retries[-1] if retries else None
        note = (f" (the CLI had retried after HTTP {last.get('error_status')} "
                f"{last.get('error')})" if last else "")
        return VendorTimeoutError(vendor, "no answer before the stage deadline" + note)
    return None


def result_response(result: Mapping[str, Any], call: Call) -> ModelResponse:
    if result.get("is_error"):
        raise result_fault(result, call)
    settings, vendor = call.settings, call.vendor
    raw_stop = result.get("stop_reason")
    text = _answer(result, call)
    if raw_stop == "refusal":
        raise RefusalError(vendor, f"the model refused to answer: {_tail(text) or 'no reason'}")
    stop: StopReason = "max_tokens" if raw_stop == "max_tokens" else "end_turn"
    session = result.get("session_id")
    return ModelResponse(text, (), stop, call.usage, call.cost_usd, call.latency,
                         settings.model_id,
                         str(session) if session else None,
                         raw_stop_reason=str(raw_stop) if raw_stop else None)


def _answer(result: Mapping[str, Any], call: Call) -> str:
    if call.request.output_schema is not None:
        if "structured_output" not in result:
            raise MalformedResponseError(call.vendor, "the session ended without the "
                                         "structured output --json-schema asked for")
        return json.dumps(result["structured_output"])
    text = result.get("result")
    if not isinstance(text, str):
        raise MalformedResponseError(call.vendor, f"the result's `result` is {type(text)}, "
                                     "not text")
    return text


def result_fault(result: Mapping[str, Any], call: Call) -> VendorError:
    """The error for a result with ``is_error: true``."""
    vendor, subtype = call.vendor, str(result.get("subtype") or "")
    detail = _tail(str(result.get("result") or "; ".join(map(str, result.get("errors") or []))))
    if result.get("stop_reason") == "refusal":
        return RefusalError(vendor, "the model refused to answer: " + detail)
    if subtype == "error_max_turns":
        limit = getattr(call.settings.options, "max_turns", None)
        return TruncatedError(vendor, f"the session reached --max-turns {limit} without a "
                              f"final answer ({result.get('num_turns')} turns counted)")
    if subtype.startswith("error_max_structured_output"):
        return MalformedResponseError(vendor, "no answer matching the --json-schema: " + detail)
    if result.get("terminal_reason") == "api_error" or result.get("api_error_status"):
        return status_fault(result.get("api_error_status"), str(result.get("api_error_type")
                                                                or ""), detail, call)
    if subtype == "error_during_execution":
        return CliCrashError(vendor, "the session failed: " + detail)
    return VendorError(vendor, f"the session ended with {subtype or 'an error'}: {detail}")


def status_fault(status: int | None, kind: str, detail: str, call: Call) -> VendorError:
    """The error for the API fault the CLI gave up on."""
    vendor = call.vendor
    message = f"HTTP {status} {kind}: {detail}" if status else detail
    if status in (401, 403) or kind in ("authentication_error", "permission_error"):
        return VendorAuthError(vendor, f"the key in {call.settings.api_key_env} was refused: "
                               + message)
    if status == 429 or kind == "rate_limit_error":
        return RateLimitedError(vendor, message)
    if status == 413 or "prompt is too long" in detail.lower():
        return ContextTooLongError(vendor, message)
    if status is None and "malformed response" in detail.lower():
        # The CLI's words for a body that is not the API's format (it retried it once already).
        return MalformedResponseError(vendor, message)
    if status is None or status >= 500 or status == 408 or kind in ("overloaded_error",
                                                                    "api_error"):
        return TransientVendorError(vendor, message)
    return VendorError(vendor, message)


def _tail(text: str) -> str:
    return redact(text.strip()[-TAIL:])
