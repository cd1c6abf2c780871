"""What crosses the vendor boundary: one model call's request and its typed response, the
option and control types every vendor declares (``VendorOptions``, ``NativeControl``), and what
a CLI vendor asks of the sandbox (``CommandRunner``, ``EgressRoute``).

The tool-use loop lives above this boundary (the pipeline); a vendor only translates one request
into its wire format and the answer back. Every vendor returns the same shapes, so a vendor swap
changes nothing above it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from harness.config.schema import McpServerConfig, ModelEntry, Price

StopReason = Literal["end_turn", "tool_use", "max_tokens", "refusal", "error"]


def concept(name: str, description: str) -> Any:
    """A vendor option field tagged with the cross-vendor concept it controls, so an option
    refused on one vendor can name that vendor's equivalents."""
    return Field(None, description=description, json_schema_extra={"concept": name})


class VendorOptions(BaseModel):
    """Base of each vendor's ``vendor_options`` schema: unknown knobs are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class NativeControl:
    """The vendor's own setting an attempt sends, e.g. ``output_config.effort=high``."""

    name: str
    value: str | int
    pinned: bool = False  # set by vendor_options rather than derived from the tier

    def __str__(self) -> str:
        sep = " " if self.name.startswith("--") else "="
        return f"{self.name}{sep}{self.value}"


@dataclass(frozen=True)
class OptionProblem:
    key: str
    message: str
    hint: str


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: Mapping[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: Mapping[str, Any]
    # Opaque to everything but the vendor that made it, and sent back with the call on the next
    # turn (Gemini 3's thought signature, base64). Kept in the transcript, so replays carry it.
    vendor_state: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class Message:
    """A user turn (text and/or tool results) or an assistant turn (text and/or tool calls)."""

    role: Literal["user", "assistant"]
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    # An assistant turn's vendor-only blocks, sent back verbatim on the next call (Anthropic's
    # signed thinking blocks, which the API requires before a tool result). From
    # ModelResponse.vendor_state.
    vendor_state: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    # The first this many characters of ``text`` are the stable ticket context, the same on
    # every attempt of the stage (pipeline.prompts.Prompt): vendors that cache by prefix send
    # them as a block of their own and cache up to its end (docs/caching.md).
    stable_chars: int = 0


@dataclass(frozen=True)
class CallSettings:
    """The per-attempt settings a vendor needs, resolved from stages.yaml by the stage's ladder."""

    model_id: str
    entry: ModelEntry
    control: NativeControl | None
    options: VendorOptions
    max_output_tokens: int
    base_url: str | None
    api_key_env: str


@dataclass
class Queueing:
    """Time an attempt waited for a vendor's capacity (a 429's retry-after, a backoff before a
    retry): not the model working, so it does not count against the attempt's timeout, up to
    ``budget`` seconds in all (the timeout stays a wall-clock backstop). ``pending`` is what
    the current call has waited; the attempt takes it into its deadline after the call."""

    budget: float
    spent: float = 0.0
    pending: float = 0.0

    def absorb(self, seconds: float) -> bool:
        """Count a wait as queueing if the budget allows it."""
        if self.spent + seconds > self.budget:
            return False
        self.spent += seconds
        self.pending += seconds
        return True

    def take(self) -> float:
        """What the call waited since the last take (the deadline moves by it)."""
        taken, self.pending = self.pending, 0.0
        return taken


@dataclass(frozen=True)
class ModelRequest:
    settings: CallSettings
    system: str
    messages: tuple[Message, ...]
    deadline: float  # time.monotonic() by which the whole call must have returned
    tools: tuple[ToolSpec, ...] = ()
    output_schema: Mapping[str, Any] | None = None  # ask for JSON matching this schema
    # The stable prefix (system prompt, tools, repo context) is marked cacheable where a vendor
    # supports it; this much of ``system`` is that prefix (all of it by default).
    cacheable_system_chars: int | None = None
    # The stage's MCP servers, for CLI vendors to hand their CLI (--mcp-config); SDK vendors
    # see those servers' tools in ``tools`` instead.
    mcp_servers: tuple[McpServerConfig, ...] = ()
    # A stage that must not change files (Planner, Debugger, Reviewer): CLI vendors turn their
    # CLI's file-writing tools off (the pipeline also undoes and fails any change it made).
    read_only: bool = False
    # Retries of a transient fault inside this call; None: while the deadline allows. A stage
    # with a fallback bounds its primary's, so the call fails over instead of waiting.
    retries: int | None = None
    # The attempt's queueing clock: a wait for the vendor's capacity moves this call's deadline.
    queueing: Queueing | None = field(default=None, compare=False)

    @property
    def end(self) -> float:
        """The deadline, moved by what this call has waited in a queue."""
        return self.deadline + (self.queueing.pending if self.queueing else 0.0)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(self.end - time.monotonic(), 0.0)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0  # not read from or written to the cache
    output_tokens: int = 0  # visible output plus thinking
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    thinking_tokens: int = 0  # part of output_tokens, where the vendor reports it

    @property
    def total(self) -> int:
        return (self.input_tokens + self.output_tokens + self.cache_read_tokens
                + self.cache_write_tokens)

    def __add__(self, other: Usage) -> Usage:
        """Both counts together, field by field (a session's exchanges, an attempt's calls)."""
        return Usage(self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens,
                     self.cache_read_tokens + other.cache_read_tokens,
                     self.cache_write_tokens + other.cache_write_tokens,
                     self.thinking_tokens + other.thinking_tokens)

    def charged(self, price: Price) -> int:
        """The tokens a run's caps count: every token whole except a cache read, which counts
        at its price's share of an input token's (0.1 at Claude's prices), so ``token_cap``
        measures spend rather than how often a long prefix was re-read."""
        share = price.cache_read / price.input if price.input > 0 else 1.0
        return (self.input_tokens + self.output_tokens + self.cache_write_tokens
                + round(self.cache_read_tokens * min(share, 1.0)))

    def cost(self, price: Price) -> float:
        """USD at the catalog's per-million prices."""
        return (self.input_tokens * price.input + self.output_tokens * price.output
                + self.cache_read_tokens * price.cache_read
                + self.cache_write_tokens * price.cache_write) / 1e6


@dataclass(frozen=True)
class ModelResponse:
    text: str
    tool_calls: tuple[ToolCall, ...]
    stop_reason: StopReason
    usage: Usage
    cost_usd: float
    latency_s: float
    model_id: str
    request_id: str | None = None
    raw_stop_reason: str | None = field(default=None, compare=False)
    vendor_state: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    # A CLI session edits the workspace itself. A vendor that replays a recorded session gives
    # back the workspace that session left (a git patch against the base commit) and the
    # pipeline puts it in place; None from a vendor that ran for real.
    workspace: str | None = field(default=None, compare=False)

    def as_message(self) -> Message:
        """This answer as the assistant turn of the conversation's next request."""
        return Message("assistant", self.text, self.tool_calls, vendor_state=self.vendor_state)


class UsageTap(Protocol):
    """Reads one response as it streams through the proxy."""

    def feed(self, chunk: bytes) -> None: ...

    def result(self, complete: bool) -> tuple[str | None, Usage, bool]:
        """The model that answered (if the response says), the tokens, and whether the output
        count is an estimate (a cut stream)."""


@dataclass(frozen=True)
class EgressRoute:
    vendor: str
    upstream: str  # scheme://host[:port][/prefix], the stage's configured endpoint
    credential: Mapping[str, str]  # headers set on every forwarded request
    allow: tuple[tuple[str, str], ...]  # (METHOD, path regex) pairs the CLI may call
    tap: Callable[[str, bytes], UsageTap]  # (path, request body) -> the response's tap
    # Request headers dropped on the way (the CLI's placeholder credential among them).
    strip: frozenset[str] = frozenset({"authorization", "x-api-key", "x-goog-api-key"})
    # Values added to a comma-separated request header (a beta flag the credential needs).
    append: Mapping[str, str] = field(default_factory=dict)
    # The stage's other named endpoints (its MCP servers by URL): path in the proxy -> upstream
    # URL. Forwarded as they are (any method, no credential added), not metered; that exact
    # path only.
    passthrough: Mapping[str, str] = field(default_factory=dict)
    # (path, request body) -> why the call is refused, or None: a request that would make the
    # vendor fetch a URL for the container (server-side MCP, web fetch, URL sources).
    screen: Callable[[str, bytes], str | None] | None = None
    # Values dropped from a comma-separated request header: header -> regex of a whole value
    # (the beta flags that enable those vendor-side fetches).
    drop_values: Mapping[str, str] = field(default_factory=dict)

    def allows(self, method: str, path: str) -> bool:
        return any(method == m and re.fullmatch(p, path) for m, p in self.allow)

    def endpoint(self, path: str) -> str | None:
        """The upstream URL of a passthrough path (that path exactly, nothing under it)."""
        return self.passthrough.get(path)


@dataclass(frozen=True)
class Exchange:
    """One request the proxy forwarded, and what it cost."""

    method: str
    path: str
    status: int  # 0: no response came back
    model: str | None
    usage: Usage
    complete: bool  # the response was read to its end
    estimated: bool = False  # output tokens estimated from a cut stream


class EgressLink(Protocol):
    """What ``CommandRunner.egress`` yields for the length of one CLI session."""

    @property
    def base_url(self) -> str:
        """The API's address as the CLI inside the container sees it."""

    def exchanges(self) -> list[Exchange]:
        """Every exchange so far; when the session is over, the cut ones too."""

    def publish(self, name: str, text: str) -> str:
        """Write a file the container can read and never change; its path in the container."""


class ExecOutcome(Protocol):
    """How a command ended (``harness.sandbox.base.ExecResult``): a value, never an error."""

    @property
    def exit_code(self) -> int: ...
    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def timed_out(self) -> bool: ...
    @property
    def oom_killed(self) -> bool: ...
    @property
    def truncated(self) -> int:
        """Characters cut from the middle of the output (the sandbox's output limit)."""
    @property
    def ok(self) -> bool: ...

    def summary(self) -> str:
        """One line: how the command ended."""


class CommandRunner(Protocol):
    """Where a CLI vendor runs its process: the ticket's sandbox (``Sandbox.exec``), reaching its
    API only through ``Sandbox.egress(route)`` while the CLI runs."""

    def exec(self, cmd: str | list[str], *, timeout: float | None = None,
             env: Mapping[str, str] | None = None, workdir: str = ...) -> ExecOutcome: ...

    def egress(self, route: EgressRoute) -> AbstractContextManager[EgressLink]: ...
