"""The egress proxy against hostile clients, host side: raw bytes on its real Unix socket (as the
exec supervisor's relay hands them over) and the loopback fake vendors upstream. A request the
proxy and the API could read differently is refused before anything is forwarded; every answer
is metered whatever the client does with it; only the socket's owner can connect; an MCP server
is reached at its exact path only."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, text
from harness.fakes.loopback import LoopbackServer
from harness.sandbox.docker_sandbox import CONTAINER_UID
from harness.sandbox.egress import SOCKET, Session, make_control_dir, remove_control_dir, serve
from harness.vendors.egress import PLACEHOLDER_KEY, anthropic_tap
from harness.vendors.types import EgressRoute, Exchange
from tests.vendors.mcp_http_server import McpHttpHandler

KEY = "sk-ant-host-test-" + "5" * 24
BODY = json.dumps({"model": "claude-test", "max_tokens": 10,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.fixture(scope="module")
def api() -> Iterator[LoopbackServer]:
    with LoopbackServer(AnthropicHandler) as srv:
        yield srv


@pytest.fixture(scope="module")
def mcp() -> Iterator[LoopbackServer]:
    with LoopbackServer(McpHttpHandler) as srv:
        yield srv


@pytest.fixture
def proxy(api: LoopbackServer, mcp: LoopbackServer) -> Iterator[tuple[Path, Session]]:
    api.reset()
    mcp.reset()
    control = make_control_dir(CONTAINER_UID if os.getuid() == 0 else None)
    route = EgressRoute("anthropic-test", api.url, {"x-api-key": KEY},
                        (("POST", r"/v1/messages"),), anthropic_tap,
                        passthrough={"/mcp/docs": f"{mcp.url}/rpc"})
    try:
        with serve(route, control) as session:
            yield control / SOCKET, session
    finally:
        remove_control_dir(control)


def connect(path: Path, timeout: float = 10) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(str(path))
    return sock


def exchange_raw(path: Path, data: bytes) -> bytes:
    """Send ``data``, end the request side, and read the whole answer."""
    with connect(path) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # refused before the body was read
            pass
        answer = bytearray()
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return bytes(answer)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def post(path: str, headers: str, body: bytes = b"") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
           f"x-api-key: {PLACEHOLDER_KEY}\r\n{headers}\r\n"
    return head.encode() + body


def wait_for(session: Session, count: int = 1, seconds: float = 15) -> list[Exchange]:
    deadline = time.monotonic() + seconds
    while len(done := session.exchanges()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return done


# -- request framing -------------------------------------------------------------------------

# The tail is 1 MiB a proxy that reads to the end would forward with the key.
TAIL = b"x" * (1 << 20)
BAD_FRAMING = {
    "negative length": post("/v1/messages", "Content-Length: -1\r\n", BODY + TAIL),
    "signed length": post("/v1/messages", f"Content-Length: +{len(BODY)}\r\n", BODY),
    "length with underscores": post("/v1/messages", "Content-Length: 1_0\r\n", BODY),
    "two lengths": post("/v1/messages", f"Content-Length: {len(BODY)}\r\n"
                        f"Content-Length: {len(BODY) + 5}\r\n", BODY + b"\r\n\r\n\r\n"),
    "length and chunked": post("/v1/messages", f"Content-Length: {len(BODY)}\r\n"
                               "Transfer-Encoding: chunked\r\n", b"0\r\n\r\n" + BODY),
    "negative chunk": post("/v1/messages", "Transfer-Encoding: chunked\r\n",
                           b"-1\r\n" + BODY + TAIL),
    "chunk size in 0x": post("/v1/messages", "Transfer-Encoding: chunked\r\n",
                             b"0x10\r\n" + BODY[:16] + b"\r\n0\r\n\r\n"),
    "gzip coding": post("/v1/messages", "Transfer-Encoding: gzip, chunked\r\n",
                        b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)),
    "compressed body": post("/v1/messages", f"Content-Length: {len(BODY)}\r\n"
                            "Content-Encoding: gzip\r\n", BODY),
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMING))
def test_ambiguous_request_framing_is_refused_unforwarded(
        proxy: tuple[Path, Session], api: LoopbackServer, name: str) -> None:
    api.queue(text("pong"))
    answer = exchange_raw(proxy[0], BAD_FRAMING[name])
    assert status_of(answer) in (400, 415, 501), answer[:300]
    assert b"harness_egress" in answer
    assert api.requests == []
    assert proxy[1].exchanges() == []


def test_a_body_over_the_limit_is_refused(proxy: tuple[Path, Session],
                                          api: LoopbackServer) -> None:
    answer = exchange_raw(proxy[0], post("/v1/messages", f"Content-Length: {1 << 30}\r\n"))
    assert status_of(answer) == 413
    chunked = exchange_raw(proxy[0], post("/v1/messages", "Transfer-Encoding: chunked\r\n",
                                          b"40000000\r\n" + TAIL))
    assert status_of(chunked) == 413
    assert api.requests == []


def test_well_formed_requests_still_pass(proxy: tuple[Path, Session],
                                         api: LoopbackServer) -> None:
    api.queue(text("one"), text("two"))
    plain = exchange_raw(proxy[0], post("/v1/messages", f"Content-Length: {len(BODY)}\r\n",
                                        BODY))
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part)
                      for part in (BODY[:7], BODY[7:])) + b"0\r\nX-Trailer: y\r\n\r\n"
    chunked = exchange_raw(proxy[0], post("/v1/messages", "Transfer-Encoding: chunked\r\n",
                                          chunks))
    assert (status_of(plain), status_of(chunked)) == (200, 200)
    assert [r.body for r in api.posts()] == [json.loads(BODY)] * 2
    assert all(r.headers["x-api-key"] == KEY for r in api.posts())


# -- metering whatever the client does -------------------------------------------------------

BIG = "long answer " * 40_000  # about 480 kB: more than a read and the socket's buffers


def test_a_client_that_hangs_up_at_once_is_still_metered(
        proxy: tuple[Path, Session], api: LoopbackServer) -> None:
    api.queue(text(BIG, input_tokens=150_000, output_tokens=64_000))
    with connect(proxy[0]) as sock:
        sock.sendall(post("/v1/messages", f"Content-Length: {len(BODY)}\r\n", BODY))
    (exchange,) = wait_for(proxy[1])
    assert (exchange.usage.input_tokens, exchange.usage.output_tokens) == (150_000, 64_000)
    assert exchange.complete


def test_a_client_that_stops_reading_is_still_metered(
        proxy: tuple[Path, Session], api: LoopbackServer) -> None:
    api.queue(text(BIG * 4, input_tokens=150_000, output_tokens=64_000))
    with connect(proxy[0]) as sock:
        sock.sendall(post("/v1/messages", f"Content-Length: {len(BODY)}\r\n", BODY))
        sock.recv(100)  # the answer started; then nothing more is read
        (exchange,) = wait_for(proxy[1])
    assert (exchange.usage.input_tokens, exchange.usage.output_tokens) == (150_000, 64_000)
    assert exchange.complete


# -- who may connect -------------------------------------------------------------------------

PROBE = """\
import os, socket, sys
os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("refused", e.errno)
else:
    s.sendall(b"GET /v1/models HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    print("connected", s.recv(100))
"""


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another uid needs root")
def test_another_local_user_cannot_reach_the_socket(proxy: tuple[Path, Session]) -> None:
    path = proxy[0]
    assert path.parent.stat().st_mode & 0o777 == 0o750
    assert path.stat().st_mode & 0o777 == 0o660
    assert path.parent.stat().st_gid == path.stat().st_gid == CONTAINER_UID[1]
    out = subprocess.run([sys.executable, "-I", "-c", PROBE, str(path)], capture_output=True,
                         text=True, timeout=30, check=False)
    assert out.stdout.startswith("refused"), out.stdout + out.stderr


def test_only_the_container_users_group_may_enter_the_control_dir() -> None:
    root = os.getuid() == 0
    control = make_control_dir(owner=(4321, 4321) if root else None)
    try:
        info = control.stat()
        want = (0, 4321, 0o750) if root else (os.getuid(), os.getgid(), 0o700)
        assert (info.st_uid, info.st_gid, info.st_mode & 0o777) == want
    finally:
        remove_control_dir(control)


# -- MCP passthrough -------------------------------------------------------------------------

RPC = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()


def test_an_mcp_server_is_reached_at_its_exact_path(proxy: tuple[Path, Session],
                                                    mcp: LoopbackServer) -> None:
    answer = exchange_raw(proxy[0], post("/mcp/docs", f"Content-Length: {len(RPC)}\r\n", RPC))
    assert status_of(answer) == 200
    assert [r.path for r in mcp.requests] == ["/rpc"]


@pytest.mark.parametrize("path", [
    "/mcp/docs/", "/mcp/docs/admin", "/mcp/docs/../../v1/messages", "/mcp/docs/%2e%2e/x",
    "/mcp/docs%2f..%2fx", "/mcp//docs", "/mcp/./docs", "/mcp/docs?redirect=http://x",
    "/mcp/docs/%2E%2E/%2E%2E/v1/messages"])
def test_any_other_mcp_path_is_refused(proxy: tuple[Path, Session], mcp: LoopbackServer,
                                       path: str) -> None:
    answer = exchange_raw(proxy[0], post(path, f"Content-Length: {len(RPC)}\r\n", RPC))
    assert status_of(answer) == 403, answer[:300]
    assert mcp.requests == []


def test_dot_segments_are_refused_on_the_api_route(proxy: tuple[Path, Session],
                                                   api: LoopbackServer) -> None:
    for path in ("/v1/x/../messages", "/v1/%6dessages", "/v1//messages"):
        answer = exchange_raw(proxy[0], post(path, f"Content-Length: {len(BODY)}\r\n", BODY))
        assert status_of(answer) == 403, (path, answer[:300])
    assert api.requests == []
