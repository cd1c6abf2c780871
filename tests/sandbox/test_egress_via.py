"""The egress proxy behind a corporate HTTP proxy (``sandbox.upstream_proxy``): every upstream
connection is a CONNECT tunnel through it, the key is still set on the host and the exchange
still metered. Host side only: the client talks to the proxy's Unix socket as the exec
supervisor's relay would."""

from __future__ import annotations

import http.client
import json
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, text
from harness.fakes.loopback import LoopbackServer
from harness.sandbox.egress import SOCKET, make_control_dir, remove_control_dir, serve
from harness.vendors.egress import PLACEHOLDER_KEY, anthropic_tap
from harness.vendors.types import EgressRoute

KEY = "sk-ant-via-test-" + "7" * 24


class _Connect(socketserver.StreamRequestHandler):
    """A CONNECT-only proxy, as corporate proxies are for HTTPS: records each tunnel's target."""

    def handle(self) -> None:
        line = self.rfile.readline().decode()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        method, target, _ = line.split(" ", 2)
        self.server.targets.append(f"{method} {target}")  # type: ignore[attr-defined]
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            _pipe(self.connection, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    while True:
        ready, _, _ = select.select([a, b], [], [], 10)
        if not ready:
            return
        for src in ready:
            data = src.recv(65536)
            if not data:
                return
            (b if src is a else a).sendall(data)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=20)
        self.path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(self.path)


@pytest.fixture
def corporate_proxy() -> Iterator[tuple[str, list[str]]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Connect)
    server.daemon_threads = True
    server.targets = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.targets  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_calls_go_through_the_configured_proxy(corporate_proxy: tuple[str, list[str]]) -> None:
    via, targets = corporate_proxy
    control = make_control_dir()
    with LoopbackServer(AnthropicHandler) as api:
        api.queue(text("pong", input_tokens=900, output_tokens=12))
        route = EgressRoute("anthropic-test", api.url, {"x-api-key": KEY},
                            (("POST", r"/v1/messages"),), anthropic_tap)
        try:
            with serve(route, control, via=via) as session:
                conn = _UnixConnection(control / SOCKET)
                body = json.dumps({"model": "claude-test", "max_tokens": 5, "stream": True,
                                   "messages": [{"role": "user", "content": "hi"}]})
                conn.request("POST", "/v1/messages", body=body,
                             headers={"content-type": "application/json",
                                      "x-api-key": PLACEHOLDER_KEY})
                response = conn.getresponse()
                answer = response.read().decode()
                conn.close()
        finally:
            remove_control_dir(control)
        (request,) = list(api.posts())
    assert response.status == 200
    assert "pong" in answer
    port = api.url.rsplit(":", 1)[1].rstrip("/")
    assert targets == [f"CONNECT 127.0.0.1:{port}"]  # the only way the upstream was reached
    assert request.headers["x-api-key"] == KEY
    (exchange,) = session.exchanges()
    assert (exchange.status, exchange.usage.input_tokens, exchange.usage.output_tokens) == \
        (200, 900, 12)
