"""The egress proxy: the only way out of a ticket's container, and only while a CLI session runs.

The container has no network. Its control directory (host side: a private temporary
directory; container side: ``CONTROL_DIR``, mounted read-only) holds a Unix socket that exists
only for the length of a session; the exec supervisor relays ``127.0.0.1:EGRESS_PORT`` inside
the container to it. On the host, this module answers on that socket as an HTTP/1.1 proxy for
one ``EgressRoute``: it forwards only the calls the route allows, only to the route's upstream,
drops whatever credential the CLI sent (a placeholder) and sets the real one, and meters each
exchange from the vendor's response as it streams back, read to its end whatever the client
does. The real key never enters the container. The stage's other named endpoints (MCP servers
by URL) pass through as they are, at their exact path only. A request whose framing or path
the upstream could read differently (``egress_wire``), or that the route's screen refuses (a
call that makes the vendor fetch a URL), is answered by the proxy and never forwarded. Only
the container's user (the control directory's owner) can connect to the socket.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from harness.sandbox.egress_wire import ClientPipe, EgressRefused, plain_path, read_body
from harness.sandbox.unix_server import private_dir, serving, share_with_directory_group
from harness.vendors.egress import PROXY_URL
from harness.vendors.types import EgressRoute, Exchange, Usage, UsageTap

CONTROL_DIR = "/run/harness"  # where the control directory appears in the container
SOCKET = "egress.sock"
BODY_LIMIT = 32 << 20  # bytes of one request body
UPSTREAM_TIMEOUT = 600.0  # seconds without a byte from the upstream before giving up
CLIENT_BUFFER = 64 << 20  # bytes of an answer held for a client that is not reading
CLIENT_GRACE = 60.0  # seconds a client has to take the rest of an answer the upstream ended
DRAIN_LIMIT = 256 << 20  # bytes read into the meter after the client is gone
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
                  "trailer", "upgrade", "host", "content-length", "accept-encoding",
                  "proxy-authorization"})


def make_control_dir(owner: tuple[int, int] | None = None) -> Path:
    """A private directory for one sandbox that only the container's user ``owner`` (uid, gid)
    may enter (``unix_server.private_dir``); mounted read-only in the container."""
    return private_dir("harness-ctl-", owner)


@dataclass
class _Pending:
    method: str
    path: str
    tap: UsageTap
    status: int = 0
    upstream: socket.socket | None = None  # to cut a stream still open when the session ends


class Session:
    """One CLI session's link to its API (an ``EgressLink``)."""

    def __init__(self, route: EgressRoute, control_dir: Path, via: str | None = None) -> None:
        self.route = route
        self.control_dir = control_dir
        self.via = via  # an HTTP proxy the host reaches the internet through, or None
        self._lock = threading.Lock()
        self._done: list[Exchange] = []
        self._live: dict[int, _Pending] = {}
        self._closed = False
        self._published: list[Path] = []

    @property
    def base_url(self) -> str:
        return PROXY_URL

    def publish(self, name: str, text: str) -> str:
        path = self.control_dir / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        self._published.append(path)
        return f"{CONTROL_DIR}/{name}"

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._done)

    def begin(self, pending: _Pending) -> int:
        with self._lock:
            key = id(pending)
            self._live[key] = pending
            return key

    def finish(self, key: int, *, complete: bool) -> None:
        with self._lock:
            pending = self._live.pop(key, None)
            if pending is not None and not self._closed:
                self._done.append(_exchange(pending, complete))

    def close(self) -> None:
        """Count what is still in flight as cut, cut it, and stop counting."""
        with self._lock:
            self._done.extend(_exchange(p, complete=False) for p in self._live.values())
            for pending in self._live.values():
                if pending.upstream is not None:  # unblocks the handler reading from it
                    with suppress(OSError):
                        pending.upstream.shutdown(socket.SHUT_RDWR)
            self._live.clear()
            self._closed = True
        for path in self._published:
            path.unlink(missing_ok=True)


class _Unmetered:
    """The tap of a named endpoint that is no model call."""

    def feed(self, chunk: bytes) -> None:
        return

    def result(self, complete: bool) -> tuple[str | None, Usage, bool]:
        return None, Usage(), False


def _exchange(p: _Pending, complete: bool) -> Exchange:
    model, usage, estimated = p.tap.result(complete)
    return Exchange(p.method, p.path, p.status, model, usage, complete, estimated)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, session: Session) -> None:
        self.session = session
        super().__init__(path, _Handler)


@contextmanager
def serve(route: EgressRoute, control_dir: Path, *, via: str | None = None
          ) -> Iterator[Session]:
    """Answer on the control directory's socket for ``route`` until the block ends; ``via``:
    an ``http://host:port`` proxy to tunnel every upstream connection through (CONNECT)."""
    session = Session(route, control_dir, via)
    path = control_dir / SOCKET
    path.unlink(missing_ok=True)
    server = _Server(str(path), session)
    share_with_directory_group(path)  # the container's group (see make_control_dir) connects
    try:
        with serving(server, "egress"):
            yield session
    finally:
        path.unlink(missing_ok=True)
        session.close()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise per request
        return

    def do_GET(self) -> None:
        try:
            self._forward()
        except EgressRefused as refused:
            self._refuse(refused.status, str(refused))

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _forward(self) -> None:
        session, route = self.server.session, self.server.session.route
        url = urlsplit(self.path)
        if not plain_path(url.path):
            raise EgressRefused(403, f"the harness egress proxy forwards no path with an empty, "
                                f"`.` or `..` segment or an escape: {url.path[:200]!r}")
        endpoint = route.endpoint(url.path)
        if endpoint is not None:
            self._pass(endpoint, url.query)
            return
        if not route.allows(self.command, url.path):
            raise EgressRefused(403, f"the harness egress proxy forwards only {route.vendor}'s "
                                f"API calls; {self.command} {url.path} is not one of them")
        body = read_body(self.headers, self.rfile, BODY_LIMIT)
        if route.screen is not None and (reason := route.screen(url.path, body)):
            raise EgressRefused(403, f"the harness egress proxy refused this {route.vendor} "
                                f"call: {reason}")
        pending = _Pending(self.command, url.path, route.tap(url.path, body))
        key = session.begin(pending)
        complete, pipe = False, None
        target = url.path + (f"?{query}" if (query := _query(url.query)) else "")
        base = urlsplit(route.upstream).path.rstrip("/")
        try:
            complete, pipe = self._relay(route.upstream, base + target, body,
                                         self._headers(route), pending)
        finally:
            session.finish(key, complete=complete)  # metered before the client is waited on
        self._deliver(pipe, complete)

    def _pass(self, upstream: str, query: str) -> None:
        """A named endpoint of the stage (an MCP server by URL): its exact URL, as it is."""
        if query:
            raise EgressRefused(403, "the harness egress proxy forwards an MCP server's own URL "
                                "only, with no query of the client's")
        body = read_body(self.headers, self.rfile, BODY_LIMIT)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        url = urlsplit(upstream)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        complete, pipe = self._relay(upstream, target, body, headers,
                                     _Pending(self.command, url.path, _Unmetered()))
        self._deliver(pipe, complete)

    def _relay(self, base: str, target: str, body: bytes, headers: dict[str, str],
               pending: _Pending) -> tuple[bool, ClientPipe | None]:
        """Forward one request and read the whole answer, handing it to the client as it
        comes; whether the upstream was read to its end, and the client's pipe."""
        try:
            upstream, response = _send(base, self.command, target, body, headers,
                                       via=self.server.session.via)
        except (OSError, http.client.HTTPException) as exc:
            self._refuse(502, f"the harness egress proxy could not reach {base}: {exc}")
            return False, None
        pending.upstream = upstream.sock
        try:
            pending.status = response.status
            head = [f"HTTP/1.1 {response.status} {response.reason}".encode("latin-1", "replace")]
            head += [f"{k}: {v}".encode("latin-1", "replace")
                     for k, v in response.getheaders() if k.lower() not in _HOP]
            pipe = ClientPipe(self.wfile, self.connection, CLIENT_BUFFER)
            pipe.put(b"\r\n".join([*head, b"Transfer-Encoding: chunked", b"", b""]))
            return self._drain(response, pending.tap, pipe), pipe
        finally:
            upstream.close()

    def _drain(self, response: http.client.HTTPResponse, tap: UsageTap,
               pipe: ClientPipe) -> bool:
        """Read the upstream to its end into the meter, whatever the client does (up to
        ``DRAIN_LIMIT`` bytes once the client is gone); whether it was read to its end."""
        read = 0
        try:
            while chunk := response.read1(65536) if self.command != "HEAD" else b"":
                tap.feed(chunk)
                pipe.put(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                read += len(chunk)
                if pipe.dropped and read > DRAIN_LIMIT:
                    return False
        except (OSError, http.client.HTTPException):  # the upstream broke, or was cut
            return False
        if self.command != "HEAD":
            pipe.put(b"0\r\n\r\n")
        return True

    def _deliver(self, pipe: ClientPipe | None, complete: bool) -> None:
        """Let the client take the rest; an answer cut upstream is cut for it too (the
        connection closes before the last chunk)."""
        if (pipe is not None and not pipe.close(CLIENT_GRACE)) or not complete:
            self.close_connection = True

    def _headers(self, route: EgressRoute) -> dict[str, str]:
        drop = _HOP | route.strip
        headers = {k: v for k, v in self.headers.items() if k.lower() not in drop}
        for name, pattern in route.drop_values.items():
            for given in [k for k in headers if k.lower() == name.lower()]:
                kept = [v.strip() for v in headers.pop(given).split(",")
                        if v.strip() and not re.fullmatch(pattern, v.strip())]
                if kept:
                    headers[given] = ",".join(kept)
        headers.update(route.credential)
        for name, value in route.append.items():
            current = next((k for k in headers if k.lower() == name.lower()), None)
            headers[current or name] = (f"{headers[current]},{value}" if current else value)
        headers["Accept-Encoding"] = "identity"  # the meter reads the body as it passes
        return headers

    def _refuse(self, status: int, message: str) -> None:
        self.close_connection = True  # an unread request body must not become the next request
        data = json.dumps({"error": {"type": "harness_egress", "message": message}}).encode()
        with suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)


def _send(upstream: str, method: str, target: str, body: bytes, headers: dict[str, str], *,
          via: str | None = None) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    base = urlsplit(upstream)
    # Through a proxy, the connection goes to the proxy and a CONNECT tunnel to the upstream;
    # TLS (and its certificate check) is still end to end with the upstream's host name.
    address = urlsplit(via).netloc if via else base.netloc
    conn: http.client.HTTPConnection
    if base.scheme == "https":
        conn = http.client.HTTPSConnection(address, timeout=UPSTREAM_TIMEOUT,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(address, timeout=UPSTREAM_TIMEOUT)
    if via:
        conn.set_tunnel(base.hostname or "", base.port or (443 if base.scheme == "https" else 80))
    try:
        conn.request(method, target, body=body or None, headers=headers)
        return conn, conn.getresponse()
    except BaseException:
        conn.close()
        raise


def _query(query: str) -> str:
    """The query without a key the CLI may have put there (Google's ``key=``)."""
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True)
                      if k.lower() != "key"])


def remove_control_dir(path: Path) -> None:
    for child in path.iterdir() if path.is_dir() else ():
        with suppress(OSError):
            child.unlink()
    with suppress(OSError):
        os.rmdir(path)
