"""How the gemini-cli vendor reads a finished ``gemini -o json`` run.

On success the CLI prints one JSON object on stdout: ``response`` (the final answer),
``session_id`` and ``stats.models.<model>.tokens`` summed over the session's requests. On a
fault stdout is empty and stderr ends with ``{"session_id", "error": {"type", "message",
"code"}}``: ``code`` is the HTTP status for an API error (whose ``message`` is the API's own
error JSON) or the CLI's exit code for its own fatal errors (41 auth, 42 input, 53 turn limit).
The process exits with that code modulo 256 (401 -> 145, 429 -> 173, 500 -> 244). An answer
blocked for safety, or still empty after the CLI's retries, exits 0 with ``response: ""`` and
an ``error`` of type ``INVALID_STREAM`` beside it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from harness.vendors import common
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
from harness.vendors.types import ExecOutcome

TAIL = 1500  # characters of stderr quoted in a crash report
_TOO_LONG = re.compile(r"token count|maximum number of tokens|context (window|length)|too long",
                       re.I)
# The SDK's stream parser, on a 200 whose body is not Server-Sent Events of JSON.
_NOT_JSON = re.compile(r"Incomplete JSON segment|Unexpected token|is not valid JSON", re.I)
# undici's words for a connection cut mid-body ("terminated") or never made.
_DROPPED = re.compile(r"\bterminated\b|fetch failed|ECONNRESET|ECONNREFUSED|socket hang up|"
                      r"other side closed", re.I)
# The CLI's notice of each retry on stderr, e.g. "Attempt 2 failed with status 500. Retrying
# with backoff... _ApiError: {...}".
_RETRY = re.compile(r"^Attempt \d+ failed.*$", re.M)
_REFUSED = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})
_TRANSIENT = frozenset({"UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED"})
_AUTH_EXIT, _TURNS_EXIT = 41, 53


@dataclass(frozen=True)
class CliAnswer:
    """The answer only: what it cost is the egress proxy's count, not the CLI's ``stats``."""

    text: str
    session_id: str | None


@dataclass(frozen=True)
class Reader:
    """Reads one run's result; every message it builds is scrubbed of the key."""

    vendor: str
    key: str
    key_env: str

    def clean(self, text: str) -> str:
        return common.redact(text).replace(self.key, "[redacted]")

    def error(self, cls: type[VendorError], text: str) -> VendorError:
        return cls(self.vendor, self.clean(text))

    def answer(self, result: ExecOutcome, seconds: float) -> CliAnswer:
        """The answer of a run given ``seconds``, or the VendorError its end means."""
        if result.timed_out:
            retries = _RETRY.findall(result.stderr)
            last = f"; its last retry notice: {retries[-1][:300]}" if retries else ""
            raise self.error(VendorTimeoutError, f"no answer within {seconds:.1f}s (the stage's "
                             f"deadline); the CLI was stopped{last}")
        if result.oom_killed:
            raise self.error(CliCrashError, "the CLI was killed for memory (the sandbox's "
                             "memory limit)")
        out = _last_object(result.stdout, "session_id")
        if result.exit_code == 0 and out is not None and "response" in out:
            # Exit 0 with an ``error`` too: the last answer was blocked or empty after retries.
            if isinstance(out.get("error"), dict):
                raise self.fault(out["error"])
            return _answer(out)
        fault = _last_object(result.stderr, "error") or out
        if fault is not None and isinstance(fault.get("error"), dict):
            raise self.fault(fault["error"])
        raise self.unexplained(result)

    def unexplained(self, result: ExecOutcome) -> VendorError:
        """An end without the CLI's result or error object."""
        if result.exit_code == _TURNS_EXIT:
            return self.error(TruncatedError, "the session hit its turn limit")
        if result.exit_code == 0 and result.truncated:
            return self.error(CliCrashError, "the CLI's answer was cut: it is longer than the "
                              "sandbox keeps of a command's output (raise sandbox.output_limit)")
        tail = result.stderr[-TAIL:] if result.stderr.strip() else "(nothing)"
        return self.error(CliCrashError, f"the CLI exited {result.exit_code} without a result; "
                          f"stderr ends: {tail}")

    def fault(self, error: dict[str, Any]) -> VendorError:
        """The VendorError for the CLI's ``error`` object."""
        kind, message = str(error.get("type", "")), str(error.get("message", ""))
        raw = error.get("code")
        code = raw if isinstance(raw, int) else 0
        api = _api_error(message)
        http = int(api.get("code") or (code if code >= 100 else 0))
        if not http:
            cls, what = _cli_fault(kind, code, message)
            return self.error(cls, f"{what} ({kind}: {message})")
        return self.http_fault(http, str(api.get("status", "")),
                               str(api.get("message") or message))

    def http_fault(self, http: int, status: str, message: str) -> VendorError:
        said = f"{http} {status}: {message}"
        if http in (401, 403) or status in _REFUSED or "api key not valid" in message.lower():
            return self.error(VendorAuthError, f"the key in {self.key_env} was refused ({said}); "
                              "check it, or name another variable with api_key_env")
        if http == 429 or status == "RESOURCE_EXHAUSTED":
            return self.error(RateLimitedError, f"rate limited after the retries that fit the "
                              f"deadline ({said})")
        if http == 400 and _TOO_LONG.search(message):
            return self.error(ContextTooLongError, f"the prompt does not fit ({said})")
        if http in (408, 499) or http >= 500 or status in _TRANSIENT:
            return self.error(TransientVendorError, f"{said} (after the retries that fit the "
                              "deadline)")
        return self.error(VendorError, f"request refused ({said})")


def _cli_fault(kind: str, code: int, message: str) -> tuple[type[VendorError], str]:
    """The class of a fault the CLI reports in its own words (no API error inside)."""
    lower = message.lower()
    if code == _AUTH_EXIT:
        return VendorAuthError, "the CLI could not authenticate"
    if code == _TURNS_EXIT:
        return TruncatedError, "the session hit its turn limit (vendor_options.max_session_turns)"
    if "Quota" in kind:
        return RateLimitedError, "rate limited"
    if kind == "INVALID_STREAM" and ("safety" in lower or "blocked" in lower):
        return RefusalError, "the answer was blocked"
    if kind == "INVALID_STREAM" and "empty response" in lower:
        return TransientVendorError, "the model's answer stayed empty through the CLI's retries"
    if kind == "INVALID_STREAM" or _NOT_JSON.search(message):
        return MalformedResponseError, "the API's answer is not its stream format"
    if _DROPPED.search(message):
        return TransientVendorError, "the connection to the API dropped"
    return VendorError, "the CLI stopped"


def _answer(out: dict[str, Any]) -> CliAnswer:
    session = out.get("session_id")
    return CliAnswer(str(out.get("response") or ""), str(session) if session else None)


def _last_object(text: str, key: str) -> dict[str, Any] | None:
    """The last JSON object in ``text`` with ``key`` (the CLI prints logs, stack traces and
    sometimes the same object again after an ``[ERROR]`` prefix around it)."""
    try:  # the usual stdout: nothing but the object
        whole = json.loads(text)
        if isinstance(whole, dict) and key in whole:
            return whole
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    start = len(text)
    while (start := text.rfind("{", 0, start)) >= 0:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict) and key in value:
            return value
    return None


def _api_error(message: str) -> dict[str, Any]:
    """The Google API error inside a CLI error message (``{"error": {...}}``), if any."""
    start = message.find("{")
    try:
        body = json.loads(message[start:]) if start >= 0 else None
    except ValueError:
        return {}
    inner = body.get("error") if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else {}
