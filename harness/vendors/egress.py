"""How a CLI vendor reaches its API from inside the sandbox without its credential ever entering
the container: the vendor describes an ``EgressRoute`` (the one upstream it may reach, which
calls, the credential headers to inject) and the sandbox's egress proxy on the host forwards
exactly that, metering every exchange from the vendor's own responses.

The meter is the host's count, not the CLI's: a session killed at its deadline reports nothing
itself, and anything the container prints is untrusted. Each response is read through a
``UsageTap`` for the vendor's wire format; a stream cut before its end is counted with the
input the vendor had reported and the output estimated from the text seen (``estimated``). A call
cut before the vendor reported anything (a non-streamed one still in flight at the session's
deadline) is counted with its input estimated from the request's size, all of it at the input
price (it erred low before: 0 tokens); its output stays unknown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from harness.config.catalog import packaged_catalog
from harness.config.schema import Price
from harness.vendors.types import CallSettings, Exchange, Usage, UsageTap

# What a CLI in the container is given instead of a key: the proxy drops it and sets the real
# credential on the way out, so a process that reads the CLI's environment learns nothing.
PLACEHOLDER_KEY = "harness-egress-placeholder-not-a-key"
# Where the egress proxy answers inside the container (its own loopback, relayed to the host).
EGRESS_PORT = 7181
PROXY_URL = f"http://127.0.0.1:{EGRESS_PORT}"
MCP_PREFIX = "/mcp/"  # + a server's name: the proxy's path to that MCP server
CHARS_PER_TOKEN = 4  # for estimating the output of a cut stream, the input of a cut call
BODY_PARSE_LIMIT = 16 << 20  # bytes of a non-streamed body kept for reading its usage


def metered(exchanges: list[Exchange], settings: CallSettings) -> tuple[Usage, float]:
    """The session's tokens and their cost, each exchange priced at the model that answered."""
    total, cost = Usage(), 0.0
    for ex in exchanges:
        total += ex.usage
        cost += ex.usage.cost(price_of(ex.model, settings))
    return total, cost


def price_of(model: str | None, settings: CallSettings) -> Price:
    """The stage's own model at the (possibly overridden) price it was planned with; any other
    model the CLI called at the packaged catalog's, else the stage model's."""
    if model is None or model == settings.model_id:
        return settings.entry.price
    found = packaged_catalog().resolve(model)
    return found[1].price if found else settings.entry.price


@dataclass
class _SseTap:
    """Server-sent events, or one JSON body when the response is not a stream."""

    model: str | None = None
    buffer: bytes = b""
    body: bytearray = field(default_factory=bytearray)
    streamed_chars: int = 0
    saw_events: bool = False
    request_bytes: int = 0  # the request body's size: a cut call's input when none was reported

    def feed(self, chunk: bytes) -> None:
        if len(self.body) < BODY_PARSE_LIMIT:
            self.body += chunk[:BODY_PARSE_LIMIT - len(self.body)]
        *lines, self.buffer = (self.buffer + chunk).split(b"\n")
        for raw in lines:
            line = raw.strip()
            if line.startswith(b"data:"):
                event = _json(line[5:])
                if isinstance(event, dict):
                    self.saw_events = True
                    self.event(event)

    def event(self, event: dict[str, Any]) -> None:
        raise NotImplementedError

    def whole(self) -> None:
        """A non-streamed body: read its usage at the end."""
        value = _json(bytes(self.body))
        for event in value if isinstance(value, list) else [value]:
            if isinstance(event, dict):
                self.event(event)

    def estimate(self, reported: int) -> int:
        return max(reported, -(-self.streamed_chars // CHARS_PER_TOKEN))

    def estimate_input(self) -> int:
        return -(-self.request_bytes // CHARS_PER_TOKEN)


@dataclass
class AnthropicTap(_SseTap):
    """Messages API: ``message_start`` carries the input (cache included), ``message_delta``
    the output so far; a non-streamed message has ``usage`` at the top."""

    counts: dict[str, int] = field(default_factory=dict)

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start" or (kind == "message" and "usage" in event):
            message = event.get("message", event)
            self.model = self.model or (str(message["model"]) if message.get("model") else None)
            self._take(message.get("usage"))
        elif kind == "message_delta":
            self._take(event.get("usage"))
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            for key in ("text", "thinking", "partial_json"):
                self.streamed_chars += len(str(delta.get(key) or ""))

    def _take(self, usage: object) -> None:
        if isinstance(usage, dict):
            self.counts.update({k: v for k, v in usage.items() if isinstance(v, int)})
            details = usage.get("output_tokens_details")
            if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
                self.counts["thinking_tokens"] = details["thinking_tokens"]

    def result(self, complete: bool) -> tuple[str | None, Usage, bool]:
        if not self.saw_events:
            self.whole()
        c = self.counts
        output = c.get("output_tokens", 0)
        unreported = not complete and "input_tokens" not in c
        estimated = not complete and (self.saw_events or unreported)
        usage = Usage(input_tokens=self.estimate_input() if unreported
                      else c.get("input_tokens", 0),
                      output_tokens=self.estimate(output) if estimated else output,
                      cache_read_tokens=c.get("cache_read_input_tokens", 0),
                      cache_write_tokens=c.get("cache_creation_input_tokens", 0),
                      thinking_tokens=c.get("thinking_tokens", 0))
        return self.model, usage, estimated


@dataclass
class GeminiTap(_SseTap):
    """generateContent / streamGenerateContent: every chunk may carry ``usageMetadata``; the
    last one has the totals. ``promptTokenCount`` includes the cached tokens, tool-use prompt
    tokens bill as input and thoughts as output."""

    meta: dict[str, Any] = field(default_factory=dict)

    def event(self, event: dict[str, Any]) -> None:
        if isinstance(event.get("usageMetadata"), dict):
            self.meta = event["usageMetadata"]
        if event.get("modelVersion") and self.model is None:
            self.model = str(event["modelVersion"])
        for candidate in event.get("candidates") or []:
            for part in ((candidate or {}).get("content") or {}).get("parts") or []:
                self.streamed_chars += len(str((part or {}).get("text") or ""))

    def result(self, complete: bool) -> tuple[str | None, Usage, bool]:
        if not self.saw_events:
            self.whole()

        def n(key: str) -> int:
            value = self.meta.get(key)
            return value if isinstance(value, int) else 0

        cached, thoughts = n("cachedContentTokenCount"), n("thoughtsTokenCount")
        output = n("candidatesTokenCount") + thoughts
        unreported = not complete and "promptTokenCount" not in self.meta
        estimated = not complete and (self.saw_events or unreported)
        usage = Usage(input_tokens=self.estimate_input() if unreported
                      else max(n("promptTokenCount") - cached, 0) + n("toolUsePromptTokenCount"),
                      output_tokens=self.estimate(output) if estimated else output,
                      cache_read_tokens=cached, thinking_tokens=thoughts)
        return self.model, usage, estimated


def anthropic_tap(path: str, body: bytes) -> UsageTap:
    request = _json(body)
    model = request.get("model") if isinstance(request, dict) else None
    return AnthropicTap(model=str(model) if model else None, request_bytes=len(body))


_GEMINI_MODEL = re.compile(r"/models/([^/:]+):")


def gemini_tap(path: str, body: bytes) -> UsageTap:
    found = _GEMINI_MODEL.search(path)
    return GeminiTap(model=found.group(1) if found else None, request_bytes=len(body))


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


# -- what the vendor must not fetch for the container ------------------------------------------
# Server-side tools and request fields that make the vendor reach a URL the request names (an
# MCP server, a web page, an image or document source): a channel out of the container, through
# the vendor, to any address. Refused (403) rather than stripped, so the CLI's tool fails
# visibly instead of the model answering as if it had searched.
ANTHROPIC_FETCH_TOOLS = re.compile(r"(web_fetch|web_search|mcp_toolset)(_.*)?")
# The beta flags of those features: dropped from ``anthropic-beta`` whatever the body says.
ANTHROPIC_FETCH_BETAS = r"(mcp-client|web-fetch|web-search)-.*"
GEMINI_FETCH_TOOLS = frozenset({"urlcontext", "googlesearch", "googlesearchretrieval",
                                "enterprisewebsearch"})  # keys, snake or camel case


class _Duplicate(ValueError):
    pass


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):  # parsers differ on which one wins
        raise _Duplicate(sorted(k for k in set(keys) if keys.count(k) > 1)[0])
    return dict(pairs)


def _request(body: bytes) -> dict[str, Any] | str:
    """The request as a JSON object (none: empty), or why it is refused."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body, object_pairs_hook=_strict_object)
    except _Duplicate as dup:
        return f"the request body repeats the key {str(dup)!r}"
    except ValueError:
        return "the request body is not JSON"
    return value if isinstance(value, dict) else "the request body is not a JSON object"


def anthropic_screen(path: str, body: bytes) -> str | None:
    """Why an Anthropic call is refused: server-side MCP (``mcp_servers``), server tools that
    fetch or search the web, image or document blocks whose source is a URL."""
    request = _request(body)
    if isinstance(request, str):
        return request
    if "mcp_servers" in request:
        return ("`mcp_servers` (the API's MCP connector) is not allowed: give the stage its "
                "MCP servers in stages.yaml instead")
    for tool in request.get("tools") or []:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if isinstance(kind, str) and ANTHROPIC_FETCH_TOOLS.fullmatch(kind):
            return f"the server tool `{kind}` makes the API fetch URLs; it is not allowed"
    blocks = [request.get("system")] + [m.get("content") for m in request.get("messages") or []
                                        if isinstance(m, dict)]
    if any(_url_source(b) for b in blocks):
        return "an image or document with a URL source makes the API fetch it; send its data"
    return None


def _url_source(content: object) -> bool:
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        source = block.get("source")
        if isinstance(source, dict) and (source.get("type") == "url" or "url" in source):
            return True
        if _url_source(block.get("content")) or (
                isinstance(source, dict) and _url_source(source.get("content"))):
            return True
    return False


def gemini_screen(path: str, body: bytes) -> str | None:
    """Why a Gemini call is refused: the tools that fetch or search the web (URL context,
    Google Search grounding), or a ``fileData`` part (a URI the API would fetch)."""
    request = _request(body)
    if isinstance(request, str):
        return request
    for tool in request.get("tools") or []:
        for key in tool if isinstance(tool, dict) else ():
            if key.replace("_", "").lower() in GEMINI_FETCH_TOOLS:
                return f"the tool `{key}` makes the API fetch or search the web; not allowed"
    contents = [request.get("systemInstruction") or request.get("system_instruction")]
    contents += request.get("contents") or []
    for content in contents:
        for part in (content.get("parts") or []) if isinstance(content, dict) else []:
            if isinstance(part, dict) and {"filedata"} & {k.replace("_", "").lower()
                                                         for k in part}:
                return "a `fileData` part makes the API fetch its URI; send inline data"
    return None
