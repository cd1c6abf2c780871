"""A loopback HTTP server scripted per request, recording what real clients send.

Each vendor's server (``anthropic_server``, ``gemini_server``) subclasses ``ScriptedHandler`` to
speak that vendor's wire format; tests queue ``Reply`` objects and read ``Recorded`` requests.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from harness.fakes.prompt_cache import forget


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON


@dataclass
class Reply:
    """What the server does for one request. ``kind`` is interpreted by the vendor's handler;
    the common ones: ``hang`` (accept, never answer), ``status`` (an HTTP error with ``body``),
    ``garbage`` (a 200 that is not the vendor's format)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)


class LoopbackServer:
    """``with LoopbackServer(Handler) as srv:`` serves on 127.0.0.1 at ``srv.url``. A CLI vendor
    in a container reaches it through the sandbox's egress proxy, which runs on the host."""

    def __init__(self, handler: type[ScriptedHandler], host: str = "127.0.0.1") -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.release = threading.Event()  # set to let hanging handlers go
        handler_cls = type(handler.__name__, (handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer((host, 0), handler_cls)
        self.httpd.daemon_threads = True
        # A short poll makes shutdown (once per test server) quick.
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def reset(self) -> None:
        """Forget queued replies, recorded requests and what its prompt cache holds: one server
        shared by a module's tests, each starting as on a fresh one."""
        self.replies.clear()
        self.requests.clear()
        forget(self)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def posts(self) -> Iterator[Recorded]:
        return (r for r in self.requests if r.method == "POST")


class ScriptedHandler(BaseHTTPRequestHandler):
    server_state: ClassVar[LoopbackServer]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def read_body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return raw

    def record(self) -> Recorded:
        rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                       self.read_body() if self.command == "POST" else None)
        self.server_state.requests.append(rec)
        return rec

    def next_reply(self) -> Reply | None:
        try:
            return self.server_state.replies.popleft()
        except IndexError:
            return None

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def hang(self) -> None:
        """Accept and never answer, until the server shuts down."""
        self.server_state.release.wait()
        self.close_connection = True
