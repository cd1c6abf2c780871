"""A loopback Anthropic Messages API, so vendor tests drive the real SDK over real HTTP.

It answers ``POST /v1/messages`` (``?beta=true`` too) as JSON or, when the body asks for
``stream: true``, as SSE with the same ``event:`` sequence the API sends; the SDK's own parser
then decides what it accepts. Each request takes the next queued ``Reply``:

``text`` (text, usage), ``tool_use`` (name, input, id?, text?; or ``calls``: [{name, input,
id}], parallel calls in one answer), ``thinking`` (thinking, text),
``refusal`` (text), ``status`` (status, body?, error_type?, message?, retry_after?),
``stream_error`` (error_type, message: an ``event: error`` after the stream started), ``hang``
(after_events?, ping_every?), ``garbage`` (body?, content_type?), ``truncated_stream``
(after_events?). ``usage`` holds the API's usage fields plus ``thinking_tokens``; without it,
the server bills the request the way the API does (``prompt_cache``): cache reads and writes
from the ``cache_control`` breakpoints it receives, output from the reply's length.
``prompt_cache(server)`` is that cache, e.g. to ``clock.advance`` past its 5-minute lifetime.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from harness.fakes.loopback import LoopbackServer, Reply, ScriptedHandler
from harness.fakes.prompt_cache import (
    AnthropicCache,
    CacheRequestError,
    cache_of,
    checked_blocks,
    count_tokens,
)

DEFAULT_USAGE = {"input_tokens": 10, "output_tokens": 5}
# Replies that are answers the API bills (the others are faults).
_ANSWERS = frozenset({"text", "tool_use", "thinking", "refusal", "truncated_stream", "hang",
                      "stream_error"})
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


def prompt_cache(server: LoopbackServer) -> AnthropicCache:
    """The prompt cache of one loopback server."""
    return cache_of(server, AnthropicCache)


def text(content: str = "ok", **usage: int) -> Reply:
    """A text answer; ``usage`` fields, when given, replace the computed ones."""
    return Reply("text", {"text": content, **({"usage": usage} if usage else {})})


def tool_use(name: str, arguments: dict[str, Any], *, call_id: str = "toolu_01",
             text_before: str = "", **usage: int) -> Reply:
    return Reply("tool_use", {"name": name, "input": arguments, "id": call_id,
                              "text": text_before, **({"usage": usage} if usage else {})})


def status(code: int, message: str = "", *, retry_after: float | None = None,
           error_type: str | None = None) -> Reply:
    data: dict[str, Any] = {"status": code, "message": message or f"scripted {code}"}
    if retry_after is not None:
        data["retry_after"] = retry_after
    if error_type:
        data["error_type"] = error_type
    return Reply("status", data)


def conversation(*turns: Reply | tuple[str, dict[str, Any]] | str) -> list[Reply]:
    """Replies for a tool loop, one per model call: a str is a final text answer, a
    ``(tool, arguments)`` pair is a tool call (ids ``toolu_01``, ``toolu_02``, ...)."""
    replies: list[Reply] = []
    for n, turn in enumerate(turns, start=1):
        if isinstance(turn, Reply):
            replies.append(turn)
        elif isinstance(turn, str):
            replies.append(text(turn))
        else:
            replies.append(tool_use(turn[0], turn[1], call_id=f"toolu_{n:02d}"))
    return replies


def _usage(data: dict[str, Any]) -> dict[str, Any]:
    raw = dict(data.get("usage") or DEFAULT_USAGE)
    thinking = raw.pop("thinking_tokens", None)
    usage: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0,
                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                             **raw}
    if thinking is not None:
        usage["output_tokens_details"] = {"thinking_tokens": thinking}
    return usage


def _blocks(reply: Reply) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop reason a reply stands for."""
    data = reply.data
    if reply.kind == "tool_use":
        blocks = [{"type": "text", "text": data["text"]}] if data.get("text") else []
        calls = data.get("calls") or [data]  # several: parallel tool calls in one answer
        blocks += [{"type": "tool_use", "id": c.get("id", "toolu_01"), "name": c["name"],
                    "input": c.get("input", {})} for c in calls]
        return blocks, "tool_use"
    if reply.kind == "thinking":
        thought = {"type": "thinking", "thinking": data.get("thinking", "hmm"),
                   "signature": "sig-test"}
        if "tool" in data:  # thinking, then a tool call
            return [thought, {"type": "tool_use", "id": data.get("id", "toolu_01"),
                              "name": data["tool"], "input": data.get("input", {})}], "tool_use"
        return [thought, {"type": "text", "text": data.get("text", "ok")}], "end_turn"
    if reply.kind == "refusal":
        return [{"type": "text", "text": data.get("text", "")}], "refusal"
    return [{"type": "text", "text": data.get("text", "ok")}], data.get("stop_reason",
                                                                        "end_turn")


def _sse(event: str, payload: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps({'type': event, **payload})}\n\n".encode()


def _events(model: str, reply: Reply) -> Iterable[bytes]:
    """The API's event sequence for one message, block by block, in small deltas."""
    blocks, stop = _blocks(reply)
    usage = _usage(reply.data)
    start_usage = {**usage, "output_tokens": 1}
    start_usage.pop("output_tokens_details", None)
    yield _sse("message_start", {"message": {
        "id": "msg_test", "type": "message", "role": "assistant", "model": model,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
    for i, block in enumerate(blocks):
        kind = block["type"]
        empty = {"text": {"type": "text", "text": ""},
                 "thinking": {"type": "thinking", "thinking": "", "signature": ""},
                 "tool_use": {**block, "input": {}}}[kind]
        yield _sse("content_block_start", {"index": i, "content_block": empty})
        if kind == "tool_use":
            raw = json.dumps(block["input"])
            half = len(raw) // 2
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in (raw[:half],
                                                                              raw[half:])]
        elif kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": block["thinking"]},
                      {"type": "signature_delta", "signature": block["signature"]}]
        else:
            body = block["text"]
            deltas = [{"type": "text_delta", "text": body[j:j + 8]}
                      for j in range(0, len(body), 8)]
        for delta in deltas:
            yield _sse("content_block_delta", {"index": i, "delta": delta})
        yield _sse("content_block_stop", {"index": i})
    yield _sse("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                 "usage": usage})
    yield _sse("message_stop", {})


class AnthropicHandler(ScriptedHandler):
    """Speaks the Messages API for whatever reply is queued next."""

    def do_HEAD(self) -> None:
        self.record()
        # The SDK-independent connectivity probe some clients make before their first call.
        self.send_response(200 if urlsplit(self.path).path == "/api/hello" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.record()
        self._error(404, "not_found_error", f"anthropic_server: no GET {self.path}")

    def do_POST(self) -> None:
        rec = self.record()
        if urlsplit(self.path).path != "/v1/messages":
            self._error(404, "not_found_error", f"anthropic_server: no POST {self.path}")
            return
        auth = rec.headers.get("authorization", "")
        if not rec.headers.get("x-api-key") and not auth.startswith("Bearer "):
            self._error(401, "authentication_error", "x-api-key header is required")
            return
        body = rec.body if isinstance(rec.body, dict) else {}
        try:  # the API refuses a bad marker before anything else happens
            checked_blocks(body)
        except CacheRequestError as exc:
            self._error(exc.status, "invalid_request_error", exc.message)
            return
        reply = self.next_reply()
        if reply is None:
            self._error(500, "api_error", "anthropic_server: no reply scripted for request "
                        f"#{len(self.server_state.requests)} (queue one with server.queue)")
            return
        if "usage" not in reply.data and reply.kind in _ANSWERS:
            reply = Reply(reply.kind, {**reply.data, "usage": self._billed(reply, body)})
        self._answer(reply, str(body.get("model", "")), body.get("stream") is True)

    def _billed(self, reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
        """The usage the API would report: the prompt cache's reads and writes, and the
        answer's own length as output."""
        usage = prompt_cache(self.server_state).account(body)
        blocks, _ = _blocks(reply)
        usage["output_tokens"] = sum(count_tokens(b) for b in blocks)
        return usage

    def _answer(self, reply: Reply, model: str, stream: bool) -> None:
        data = reply.data
        if reply.kind == "status":
            code = int(data["status"])
            headers = {"retry-after": str(data["retry_after"])} if "retry_after" in data else {}
            error_type = data.get("error_type") or _ERROR_TYPES.get(code, "api_error")
            self._error(code, error_type, data["message"], headers, data.get("body"))
        elif reply.kind == "garbage":
            self._raw(200, data.get("content_type", "text/html"),
                      data.get("body", "<html>upstream proxy says hi</html>").encode())
        elif reply.kind == "hang" and "after_events" not in data:
            self.hang()
        elif stream:
            self._stream(reply, model)
        elif reply.kind == "hang":
            self.hang()
        elif reply.kind in ("truncated_stream", "stream_error"):
            self._raw(200, "application/json", b'{"id": "msg_test", "ty')  # cut JSON
        else:
            blocks, stop = _blocks(reply)
            self.send_json(200, {"id": "msg_test", "type": "message", "role": "assistant",
                                 "model": model, "content": blocks, "stop_reason": stop,
                                 "stop_sequence": None, "usage": _usage(data)},
                           {"request-id": "req_test"})

    def _stream(self, reply: Reply, model: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_test")
        self.end_headers()
        events = list(_events(model, reply))
        cut = int(reply.data.get("after_events", 2))
        if reply.kind == "stream_error":
            events = [*events[:cut], _sse("error", {"error": {
                "type": reply.data.get("error_type", "overloaded_error"),
                "message": reply.data.get("message", "Overloaded")}})]
        elif reply.kind in ("hang", "truncated_stream"):
            events = events[:cut]
        for event in events:
            self._chunk(event)
        if reply.kind == "hang":
            self._stall(float(reply.data.get("ping_every", 0)))
        elif reply.kind == "truncated_stream":
            # Drop the connection without the terminating chunk, as a proxy cut would.
            self.close_connection = True
        else:
            self._chunk(b"")

    def _stall(self, ping_every: float) -> None:
        """Keep the stream open: silent, or with pings that reset any per-read timeout."""
        if not ping_every:
            self.hang()
            return
        while not self.server_state.release.wait(ping_every):
            try:
                self._chunk(_sse("ping", {}))
            except OSError:  # the client gave up and closed: nothing left to stall
                break
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _raw(self, code: int, content_type: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, error_type: str, message: str,
               headers: dict[str, str] | None = None, body: Any = None) -> None:
        payload = body if body is not None else {
            "type": "error", "error": {"type": error_type, "message": message},
            "request_id": "req_test"}
        self.send_json(code, payload, {"request-id": "req_test", **(headers or {})})


__all__ = ["AnthropicHandler", "conversation", "prompt_cache", "status", "text", "tool_use"]
