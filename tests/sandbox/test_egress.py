"""The egress proxy, seen from inside a real container: during a session the proxy is the only
thing that answers, it forwards only the route's calls, sets the real key on the host (the
container holds a placeholder), and meters every exchange, a cut one included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, text
from harness.fakes.loopback import LoopbackServer, Reply
from harness.sandbox.base import Sandbox
from harness.sandbox.egress import CONTROL_DIR
from harness.vendors.egress import EGRESS_PORT, PLACEHOLDER_KEY, anthropic_tap
from harness.vendors.types import EgressRoute

pytestmark = pytest.mark.docker  # every test here needs the engine

Open = Callable[..., Sandbox]
KEY = "sk-ant-egress-test-" + "9" * 24
# A client inside the container: METHOD PATH [TIMEOUT]; prints the status and the body.
CLIENT = """\
import json, sys, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 20
body = json.dumps({"model": "claude-test", "max_tokens": 10, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
req = urllib.request.Request(url, data=body if method == "POST" else None, method=method,
                             headers={"content-type": "application/json",
                                      "x-api-key": "@PLACEHOLDER@"})
try:
    with urllib.request.urlopen(req, timeout=timeout) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print("ERR", type(e).__name__, e)
""".replace("@PLACEHOLDER@", PLACEHOLDER_KEY)
PROXY = f"http://127.0.0.1:{EGRESS_PORT}"


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(AnthropicHandler) as srv:
        yield srv


@pytest.fixture
def route(server: LoopbackServer) -> EgressRoute:
    return EgressRoute("anthropic-test", server.url, {"x-api-key": KEY},
                       (("POST", r"/v1/messages"),), anthropic_tap)


@pytest.fixture
def proxied(open_sandbox: Open, repo: Path) -> Sandbox:
    return open_sandbox(repo, network="proxy")


def client(sandbox: Sandbox, method: str, url: str, timeout: float = 20) -> str:
    return sandbox.exec(["python3", "-c", CLIENT, method, url, str(timeout)], timeout=60).stdout


def test_the_key_is_set_on_the_host_and_the_exchange_metered(
        proxied: Sandbox, server: LoopbackServer, route: EgressRoute) -> None:
    server.queue(text("pong", input_tokens=1200, output_tokens=34, cache_read_input_tokens=500))
    with proxied.egress(route) as link:
        assert link.base_url == PROXY
        out = client(proxied, "POST", f"{link.base_url}/v1/messages")
    assert out.startswith("200 ")
    assert "pong" in out
    (request,) = list(server.posts())
    assert request.headers["x-api-key"] == KEY  # the placeholder was dropped, the key set
    assert PLACEHOLDER_KEY not in json.dumps(request.headers)
    (exchange,) = link.exchanges()
    assert (exchange.status, exchange.complete, exchange.model) == (200, True, "claude-test")
    assert (exchange.usage.input_tokens, exchange.usage.output_tokens,
            exchange.usage.cache_read_tokens) == (1200, 34, 500)


def test_only_the_routes_calls_are_forwarded(proxied: Sandbox, server: LoopbackServer,
                                             route: EgressRoute) -> None:
    with proxied.egress(route) as link:
        other = client(proxied, "POST", f"{link.base_url}/v1/files")
        wrong_method = client(proxied, "GET", f"{link.base_url}/v1/messages")
    assert other.startswith("403 ")
    assert "harness egress proxy" in other
    assert wrong_method.startswith("403 ")
    assert server.requests == []
    assert link.exchanges() == []


def test_during_a_session_only_the_proxy_answers(proxied: Sandbox, server: LoopbackServer,
                                                 route: EgressRoute) -> None:
    port = server.url.rsplit(":", 1)[1]
    with proxied.egress(route) as link:
        # The host's own server: not on the container's loopback, and no route to the host.
        direct = client(proxied, "POST", f"http://127.0.0.1:{port}/v1/messages", 5)
        bridge = client(proxied, "POST", f"http://172.17.0.1:{port}/v1/messages", 5)
        registry = proxied.exec("npm view is-number version --fetch-timeout=5000 "
                                "--fetch-retries=0", timeout=60)
        interfaces = proxied.exec("cat /proc/net/dev").stdout
        answered = client(proxied, "POST", f"{link.base_url}/v1/messages", 5)
    assert direct.startswith("ERR"), direct
    assert bridge.startswith("ERR"), bridge
    assert not registry.ok
    assert interfaces.count(":") == 1  # only lo
    assert answered.startswith("500 ")  # the proxy answered (the server had nothing queued)


def test_outside_a_session_nothing_answers(proxied: Sandbox, route: EgressRoute) -> None:
    with proxied.egress(route):
        pass
    assert client(proxied, "POST", f"{PROXY}/v1/messages", 5).startswith("ERR")
    socket_left = proxied.exec(["ls", "-A", CONTROL_DIR]).stdout
    assert "egress.sock" not in socket_left


def test_a_session_cut_mid_stream_is_counted(proxied: Sandbox, server: LoopbackServer,
                                             route: EgressRoute) -> None:
    # message_start (the input) and one delta, then silence: the client gives up after 3 s.
    server.queue(Reply("hang", {"after_events": 3, "text": "partial answer " * 8,
                                "usage": {"input_tokens": 5000, "output_tokens": 700}}))
    with proxied.egress(route) as link:
        out = client(proxied, "POST", f"{link.base_url}/v1/messages", 3)
    assert out.startswith("ERR"), out
    (exchange,) = link.exchanges()
    assert not exchange.complete
    assert exchange.estimated
    assert exchange.usage.input_tokens == 5000
    assert exchange.usage.output_tokens >= 1  # estimated from what had streamed



def test_a_call_cut_before_any_answer_is_counted_by_its_request(
        proxied: Sandbox, server: LoopbackServer, route: EgressRoute) -> None:
    # The vendor never answers (not even message_start): the session ends with the call in
    # flight. Recorded with 0 tokens before; now its input is estimated from the request.
    server.queue(Reply("hang", {}))
    with proxied.egress(route) as link:
        out = client(proxied, "POST", f"{link.base_url}/v1/messages", 3)
    assert out.startswith("ERR"), out
    (request,) = list(server.posts())
    (exchange,) = link.exchanges()
    assert not exchange.complete
    assert exchange.estimated
    sent = len(json.dumps(request.body))  # the body as the client wrote it (json.dumps)
    assert exchange.usage.input_tokens == -(-sent // 4) > 0
    assert exchange.usage.output_tokens == 0  # unknown: nothing came back

def test_the_key_is_nowhere_in_the_container(proxied: Sandbox, server: LoopbackServer,
                                             route: EgressRoute) -> None:
    server.queue(text("pong"))
    probe = (f"echo environ=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | "
             f"grep -c -- {KEY}); echo files=$(grep -rl -- {KEY} {CONTROL_DIR} /tmp "
             "/workspace 2>/dev/null)")
    with proxied.egress(route) as link:
        during = proxied.exec(["sh", "-c", f'python3 -c "$CLIENT" POST {link.base_url}'
                               f"/v1/messages & {probe}; wait"],
                              env={"CLIENT": CLIENT}, timeout=60)
    lines = during.stdout.splitlines()
    assert "environ=0" in lines, during.stdout
    assert "files=" in lines, during.stdout
    assert any(line.startswith("200 ") for line in lines), during.stdout
    run_dir = proxied.workspace.path.parent  # type: ignore[attr-defined]
    assert [p for p in run_dir.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()] == []
