"""A loopback server speaking the Gemini API (generateContent and its SSE stream).

Real clients point at it with a base URL: the google-genai SDK (``HttpOptions.base_url``) and the
gemini CLI (``GOOGLE_GEMINI_BASE_URL``). Tests queue replies; what each client sent is recorded.

Reply kinds and their ``data`` keys:

``text``              ``text``, ``thought`` (a thought part), ``finish_reason`` (``STOP``),
                      ``usage`` (usageMetadata, camelCase), ``response_id``, ``chunks`` (SSE
                      events the text is split over)
``function_call``     ``calls``: [{``name``, ``args``, ``id`` (omitted: the API gave none)}],
                      ``text``, ``thought_signature``, ``usage``, ``response_id``
``status``            ``code``, ``status``, ``message``, ``details``, ``retry_after`` (header),
                      ``retry_delay`` (a google.rpc.RetryInfo detail such as ``"0.2s"``)
``hang``              accept the request and never answer; with ``trickle`` (seconds), start a
                      200 stream and send an unfinished event that often, never the last one
``garbage``           a 200 that is not JSON
``truncated_stream``  one SSE event with partial text, then the connection drops mid-body
``safety``            a candidate stopped with finishReason ``SAFETY`` and no content

An answer without ``usage`` is billed as the API would (``prompt_cache``): the prompt's tokens,
the part of them an implicit or explicit cache holds (``cachedContentTokenCount``), and the
answer's own length. ``POST /v1beta/cachedContents`` creates an explicit cache that later
requests name with ``cachedContent``; ``prompt_cache(server)`` holds both kinds.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness.fakes.loopback import LoopbackServer, Recorded, Reply, ScriptedHandler
from harness.fakes.prompt_cache import CacheRequestError, GeminiCache, cache_of, count_tokens

_ROUTE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):(generateContent|streamGenerateContent)$")
_CACHES = re.compile(r"^/(v1|v1beta)/cachedContents$")
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
DEFAULT_USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}


def prompt_cache(server: LoopbackServer) -> GeminiCache:
    """The implicit and explicit caches of one loopback server."""
    return cache_of(server, GeminiCache)


def error_body(code: int, message: str, status: str | None = None,
               details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Google's error envelope (google.rpc.Status as JSON)."""
    return {"error": {"code": code, "message": message,
                      "status": status or _STATUS_NAMES.get(code, "UNKNOWN"),
                      "details": details or []}}


def pick(obj: Any, camel: str) -> Any:
    """A field of a request object under either spelling: the Python SDK and the gemini CLI
    do not agree on case inside sub-objects, and the API accepts both."""
    if not isinstance(obj, dict):
        return None
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()
    return obj[camel] if camel in obj else obj.get(snake)


def generation_config(body: Any) -> dict[str, Any]:
    return pick(body, "generationConfig") or {}


def thinking_config(body: Any) -> dict[str, Any]:
    return pick(generation_config(body), "thinkingConfig") or {}


def function_declarations(body: Any) -> list[dict[str, Any]]:
    return [decl for tool in pick(body, "tools") or []
            for decl in pick(tool, "functionDeclarations") or []]


def parts_of(body: Any, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(role, part[kind]) for every part of ``kind`` (e.g. ``functionResponse``) in contents."""
    return [(str(content.get("role", "")), pick(part, kind))
            for content in pick(body, "contents") or []
            for part in pick(content, "parts") or [] if pick(part, kind) is not None]


class GeminiHandler(ScriptedHandler):
    """``LoopbackServer(GeminiHandler)``: one queued ``Reply`` answers each POST."""

    def do_POST(self) -> None:
        rec = self.record()
        url = urlsplit(self.path)
        route = _ROUTE.match(url.path)
        if route is None and not _CACHES.match(url.path):
            self.send_json(404, error_body(404, f"gemini_server: no route for POST {url.path}"))
            return
        key = rec.headers.get("x-goog-api-key") or parse_qs(url.query).get("key", [""])[0]
        if not key:
            self.send_json(403, error_body(403, "Method doesn't allow unregistered callers "
                                           "(callers without established identity). Please "
                                           "use API Key or other form of API consumer "
                                           "identity to call this API."))
            return
        body = rec.body if isinstance(rec.body, dict) else {}
        try:
            if route is None:  # cachedContents.create: served by the cache, not the script
                self.send_json(200, prompt_cache(self.server_state).create(body))
                return
            model = route.group(2)
            prompt_cache(self.server_state).check(model, body)
        except CacheRequestError as exc:
            self.send_json(exc.status, error_body(exc.status, exc.message, exc.reason or None))
            return
        reply = self.next_reply()
        if reply is None:
            self.send_json(500, error_body(500, f"gemini_server: no scripted reply for POST "
                                           f"{url.path} (queue one with srv.queue(Reply(...)))"))
            return
        if "usage" not in reply.data and reply.kind in ("text", "function_call"):
            billed = prompt_cache(self.server_state).account(model, body)
            reply = Reply(reply.kind, {**reply.data, "usage": _usage(reply.data, billed)})
        self.answer(reply, rec, model, route.group(3) == "streamGenerateContent")

    def answer(self, reply: Reply, rec: Recorded, model: str, stream: bool) -> None:
        d = reply.data
        if reply.kind == "hang" and d.get("trickle"):
            self.trickle(float(d["trickle"]), model)
        elif reply.kind == "hang":
            self.hang()
        elif reply.kind == "status":
            self.send_status(d)
        elif reply.kind == "garbage":
            self.send_raw(200, "text/html", b"<html><body>upstream proxy error</body></html>")
        elif reply.kind == "truncated_stream":
            self.truncated(model)
        elif reply.kind in ("text", "function_call", "safety"):
            events = self.events(reply, model)
            if stream:
                self.send_sse(events)
            else:
                self.send_json(200, merge(events))
        else:
            self.send_json(500, error_body(500, f"gemini_server: unknown reply kind "
                                           f"{reply.kind!r}"))

    def events(self, reply: Reply, model: str) -> list[dict[str, Any]]:
        """The SSE events of one answer; the last carries finishReason and the usage."""
        d = reply.data
        base = {"modelVersion": model, "responseId": d.get("response_id", "resp-1")}
        if reply.kind == "safety":
            return [{**base, "candidates": [{"finishReason": "SAFETY", "index": 0,
                                             "safetyRatings": [{
                                                 "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
                                                 "probability": "HIGH", "blocked": True}]}],
                     "usageMetadata": {"promptTokenCount": 10, "totalTokenCount": 10}}]
        parts: list[dict[str, Any]] = []
        if d.get("thought"):
            parts.append({"text": d["thought"], "thought": True})
        text = str(d.get("text", ""))
        n = max(int(d.get("chunks", 1)), 1)
        size = -(-len(text) // n) if text else 0
        pieces = [text[i:i + size] for i in range(0, len(text), size)] if text else []
        events = [{**base, "candidates": [{"content": {"role": "model",
                                                       "parts": [{"text": p}]}, "index": 0}],
                   "usageMetadata": {"promptTokenCount": 10}} for p in pieces[:-1]]
        if pieces:
            parts.append({"text": pieces[-1]})
        for i, call in enumerate(d.get("calls", [])):
            fc = {k: call[k] for k in ("name", "args", "id") if k in call}
            part: dict[str, Any] = {"functionCall": fc}
            if i == 0 and d.get("thought_signature"):
                part["thoughtSignature"] = d["thought_signature"]
            parts.append(part)
        last = {"content": {"role": "model", "parts": parts},
                "finishReason": d.get("finish_reason", "STOP"), "index": 0}
        events.append({**base, "candidates": [last],
                       "usageMetadata": d.get("usage", DEFAULT_USAGE)})
        return events

    def send_status(self, d: dict[str, Any]) -> None:
        code = int(d.get("code", 500))
        details = list(d.get("details", []))
        if "retry_delay" in d:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                            "retryDelay": d["retry_delay"]})
        headers = {"Retry-After": str(d["retry_after"])} if "retry_after" in d else None
        self.send_json(code, error_body(code, d.get("message", f"scripted {code}"),
                                        d.get("status"), details), headers)

    def send_raw(self, status: int, ctype: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def send_sse(self, events: list[dict[str, Any]]) -> None:
        # Chunked and flushed per event, as the real API streams, so clients parse incrementally.
        self.start_chunked()
        for event in events:
            self.write_chunk(f"data: {json.dumps(event)}\r\n\r\n".encode())
        self.wfile.write(b"0\r\n\r\n")

    def truncated(self, model: str) -> None:
        """One event, then the socket closes without the chunked terminator: what a dropped
        connection or a proxy idle cut looks like to the client."""
        self.start_chunked()
        event = {"modelVersion": model, "candidates": [{"content": {
            "role": "model", "parts": [{"text": "partial answ"}]}, "index": 0}]}
        self.write_chunk(f"data: {json.dumps(event)}\r\n\r\n".encode())
        self.close_connection = True


    def trickle(self, every: float, model: str) -> None:
        """Bytes keep arriving, so a per-read client timeout never fires; only a deadline on
        the whole call ends it."""
        self.start_chunked()
        event = {"modelVersion": model, "candidates": [{"content": {
            "role": "model", "parts": [{"text": "."}]}, "index": 0}]}
        try:
            while True:
                self.write_chunk(f"data: {json.dumps(event)}\r\n\r\n".encode())
                if self.server_state.release.wait(every):
                    break
        except OSError:  # the client hung up, as it should at its deadline
            pass
        self.close_connection = True


def _usage(data: dict[str, Any], billed: dict[str, int]) -> dict[str, int]:
    """usageMetadata for an answer: the prompt as the cache billed it, the answer's length."""
    parts = [data.get("thought"), data.get("text"), *data.get("calls", [])]
    out = sum(count_tokens(p) for p in parts if p)
    usage = {"promptTokenCount": billed["promptTokenCount"], "candidatesTokenCount": out,
             "totalTokenCount": billed["promptTokenCount"] + out}
    if billed["cachedContentTokenCount"]:
        usage["cachedContentTokenCount"] = billed["cachedContentTokenCount"]
    return usage


def merge(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streaming body: every event's parts under the last event's envelope."""
    parts = [p for e in events for c in e.get("candidates", [])[:1]
             for p in c.get("content", {}).get("parts", [])]
    last = json.loads(json.dumps(events[-1]))
    if last.get("candidates") and parts:
        last["candidates"][0]["content"] = {"role": "model", "parts": parts}
    return dict(last)


__all__ = ["DEFAULT_USAGE", "GeminiHandler", "error_body", "function_declarations",
           "generation_config", "parts_of", "pick", "prompt_cache", "thinking_config"]
