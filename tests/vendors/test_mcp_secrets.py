"""MCP secrets by reference: ``env: {TOKEN: ${MY_TOKEN}}`` reaches the server's environment —
started by the harness for SDK vendors, by the claude and gemini CLIs in the container — and the
value is never in run.json, a CLI's argv, its settings file, or anything the harness writes."""

from __future__ import annotations

import json
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.config.schema import McpServerConfig
from harness.errors import MissingSecretError
from harness.fakes.anthropic_server import AnthropicHandler, text, tool_use
from harness.fakes.gemini_server import GeminiHandler, parts_of
from harness.fakes.loopback import LoopbackServer, Reply
from harness.pipeline.mcp_tools import McpHub
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.stages import load_plan
from harness.vendors.claude_cli.command import claude_argv
from harness.vendors.claude_cli.session import Session
from harness.vendors.cli_mcp import claude_mcp_config, gemini_mcp_servers, mcp_env
from harness.vendors.common import redact
from harness.vendors.gemini_cli.command import cli_settings
from harness.vendors.types import Message, ModelRequest, ToolCall
from tests.vendors.cli_fixtures import (  # noqa: F401 - fixtures
    MCP_STDIO_SERVER,
    cli_image,
    cli_sandbox,
    docker_client,
)

SECRET = "mcp-secret-" + uuid.uuid4().hex  # shaped like no vendor key: only known by value
LITERAL = "literal-" + uuid.uuid4().hex


def server(command: list[str], **env: str) -> McpServerConfig:
    return McpServerConfig(name="symbols", command=command, env=env)


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MY_TOKEN", SECRET)
    return SECRET


def test_a_record_holds_references_never_values() -> None:
    cfg = server(["x"], TOKEN="${MY_TOKEN}", PLAIN=LITERAL)
    dumped = json.dumps(cfg.model_dump(mode="json"))
    assert '"TOKEN": "${MY_TOKEN}"' in dumped
    assert LITERAL not in dumped
    assert cfg.env["PLAIN"] == LITERAL  # the config itself still has it, for the server


def test_a_malformed_reference_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"a reference is `\$\{NAME\}`"):
        server(["x"], TOKEN="${MY-TOKEN}")


def test_a_reference_to_an_unset_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(MissingSecretError, match="MCP server `symbols`: env refers to "
                       "NOT_SET_ANYWHERE, which is not set"):
        mcp_env([server(["x"], TOKEN="${NOT_SET_ANYWHERE}")])


def test_the_cli_configs_carry_references_and_the_exec_env_the_values(token: str) -> None:
    servers = [server(["python3", "s.py"], TOKEN="${MY_TOKEN}", PLAIN=LITERAL)]
    for form in (claude_mcp_config(servers), gemini_mcp_servers(servers)):
        text_ = json.dumps(form)
        assert token not in text_
        assert LITERAL not in text_
        assert "${HARNESS_MCP_0_0}" in text_
    assert mcp_env(servers) == {"HARNESS_MCP_0_0": token, "HARNESS_MCP_0_1": LITERAL}
    assert redact(f"x {token} y {LITERAL}") == "x [redacted] y [redacted]"


def test_neither_cli_gets_a_value_in_its_argv_or_settings(token: str, tmp_path: Path) -> None:
    config = tmp_path / "stages.yaml"
    config.write_text("planner: {vendor: claude-cli, model: sonnet, timeout: 60s}\n"
                      "coder: {vendor: gemini-cli, model: gemini-pro, timeout: 60s}\n")
    plan = load_plan(config)
    servers = (server(["python3", "s.py"], TOKEN="${MY_TOKEN}", PLAIN=LITERAL),)
    for role in ("planner", "coder"):
        attempt = plan.stages[role].attempts[0]
        request = ModelRequest(attempt.settings(), "s", (Message("user", "u"),),
                               time.monotonic() + 60, mcp_servers=servers)
        if role == "planner":
            written = json.dumps(claude_argv(request, attempt.settings().options,  # type: ignore[arg-type]
                                             Session.new(), "claude-cli"))
        else:
            written = json.dumps(cli_settings(request, "gemini-cli", 1))
        assert "mcpServers" in written
        assert token not in written
        assert LITERAL not in written


def test_an_sdk_stages_server_gets_the_secret(token: str) -> None:
    with McpHub([server([sys.executable, str(MCP_STDIO_SERVER)], TOKEN="${MY_TOKEN}")]) as hub:
        result = hub.call(ToolCall("c1", "symbols__read_env", {"name": "TOKEN"}))
    assert (result.content, result.is_error) == (token, False)


# -- the CLIs in the container ------------------------------------------------------------------


@pytest.fixture
def in_container(cli_sandbox: DockerSandbox) -> McpServerConfig:  # noqa: F811
    cli_sandbox.write_file("tools/mcp_symbols.py", MCP_STDIO_SERVER.read_text())
    return server(["python3", "/workspace/tools/mcp_symbols.py"], TOKEN="${MY_TOKEN}")


@pytest.fixture
def anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-" + "mcpsecret" * 2)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with LoopbackServer(AnthropicHandler) as srv:
        yield srv


@pytest.fixture
def gemini(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza" + "McpSecret" * 4)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    with LoopbackServer(GeminiHandler) as srv:
        yield srv


def ask(vendor: str, model: str, url: str, sandbox: DockerSandbox, tmp_path: Path, *,
        mcp: McpServerConfig) -> str:
    config = tmp_path / "stages.yaml"
    config.write_text(textwrap.dedent(f"""\
        planner: {{vendor: {vendor}, model: {model}, timeout: 120s, base_url: "{url}"}}
        coder: {{vendor: {vendor}, model: {model}, timeout: 120s, base_url: "{url}"}}
        """))
    attempt = load_plan(config).stages["coder"].attempts[0]
    request = ModelRequest(attempt.settings(), "You are a coder.",
                           (Message("user", "Which token does the server have?"),),
                           time.monotonic() + 100, mcp_servers=(mcp,))
    return attempt.vendor.complete(request, runner=sandbox).text


@pytest.mark.docker
def test_the_claude_clis_server_gets_the_secret(
        anthropic: LoopbackServer, cli_sandbox: DockerSandbox,  # noqa: F811
        in_container: McpServerConfig, token: str, tmp_path: Path) -> None:
    anthropic.queue(tool_use("mcp__symbols__read_env", {"name": "TOKEN"}), text("seen"))
    assert ask("claude-cli", "sonnet", anthropic.url, cli_sandbox, tmp_path,
               mcp=in_container) == "seen"
    second = [r.body for r in anthropic.posts()][1]
    results = [b for m in second["messages"] if isinstance(m["content"], list)
               for b in m["content"] if b.get("type") == "tool_result"]
    assert token in json.dumps(results)  # the server read it from its environment


@pytest.mark.docker
def test_the_gemini_clis_server_gets_the_secret(
        gemini: LoopbackServer, cli_sandbox: DockerSandbox,  # noqa: F811
        in_container: McpServerConfig, token: str, tmp_path: Path) -> None:
    gemini.queue(Reply("function_call", {"calls": [{"name": "mcp_symbols_read_env",
                                                    "args": {"name": "TOKEN"}}]}),
                 Reply("text", {"text": "seen"}))
    assert ask("gemini-cli", "gemini-pro", gemini.url, cli_sandbox, tmp_path,
               mcp=in_container) == "seen"
    answer = list(gemini.posts())[1]
    assert token in json.dumps(parts_of(answer.body, "functionResponse"))
