"""One scripted conversation — text, a tool call, the tool's result, a final answer — through all
four surfaces with their real clients: the Anthropic and Google SDKs (the harness runs the tool
in the sandbox) and the claude and gemini CLIs in the container (each runs its own read tool).
Every surface must yield the same typed result, with usage and cost from the catalog."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, text, tool_use
from harness.fakes.gemini_server import GeminiHandler, parts_of
from harness.fakes.loopback import LoopbackServer, Recorded, Reply, ScriptedHandler
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.stages import load_plan
from harness.vendors.types import Message, ModelRequest, ModelResponse, ToolResult, ToolSpec, Usage
from tests.vendors.cli_fixtures import cli_image, cli_sandbox, docker_client  # noqa: F401

pytestmark = pytest.mark.docker  # every test here needs the engine

GREET = 'exports.greet = (n) => "hello " + n;'
QUESTION = "What does src/greet.js do?"
ANSWER = "greet(n) returns 'hello ' + n."
READ = ToolSpec("read_file", "Read a file of the repository.",
                {"type": "object", "properties": {"path": {"type": "string"}},
                 "required": ["path"]})
KEYS = {"ANTHROPIC_API_KEY": "sk-ant-test-" + "surface" * 3,
        "GEMINI_API_KEY": "AIza" + "Surface0" * 4}


def anthropic_replies(tool: str, args: dict[str, Any]) -> list[Reply]:
    return [tool_use(tool, args, text_before="Reading it.", input_tokens=1000,
                     output_tokens=100),
            text(ANSWER, input_tokens=1200, output_tokens=50)]


def gemini_replies(tool: str, args: dict[str, Any]) -> list[Reply]:
    return [Reply("function_call", {"text": "Reading it.", "calls": [{"name": tool, "args": args}],
                                    "usage": {"promptTokenCount": 1000,
                                              "candidatesTokenCount": 100}}),
            Reply("text", {"text": ANSWER, "usage": {"promptTokenCount": 1200,
                                                     "candidatesTokenCount": 50}})]


def anthropic_tool_result(second: Recorded) -> str:
    return json.dumps([b for m in second.body["messages"] if isinstance(m["content"], list)
                       for b in m["content"] if b.get("type") == "tool_result"])


def gemini_tool_result(second: Recorded) -> str:
    return json.dumps(parts_of(second.body, "functionResponse"))


@dataclass(frozen=True)
class Surface:
    vendor: str
    model: str
    handler: type[ScriptedHandler]
    replies: list[Reply]
    tool_result: Callable[[Recorded], str]


SURFACES = {
    "anthropic": Surface("anthropic", "sonnet", AnthropicHandler,
                         anthropic_replies("read_file", {"path": "src/greet.js"}),
                         anthropic_tool_result),
    "claude-cli": Surface("claude-cli", "sonnet", AnthropicHandler,
                          anthropic_replies("Read", {"file_path": "/workspace/src/greet.js"}),
                          anthropic_tool_result),
    "google": Surface("google", "gemini-pro", GeminiHandler,
                      gemini_replies("read_file", {"path": "src/greet.js"}), gemini_tool_result),
    "gemini-cli": Surface("gemini-cli", "gemini-pro", GeminiHandler,
                          gemini_replies("read_file", {"file_path": "src/greet.js"}),
                          gemini_tool_result),
}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[type[ScriptedHandler], LoopbackServer]]:
    import anthropic  # noqa: F401, PLC0415 - a first import would eat into the deadline
    import google.genai  # noqa: F401, PLC0415
    with LoopbackServer(AnthropicHandler) as ant, LoopbackServer(GeminiHandler) as goo:
        yield {AnthropicHandler: ant, GeminiHandler: goo}


def converse(surface: Surface, server: LoopbackServer, sandbox: DockerSandbox,
             tmp_path: Path) -> tuple[ModelResponse, Usage, float]:
    """The harness's side of the conversation: ask, run any tool call in the sandbox, send its
    result, until a final answer. Returns it with the usage and cost summed over the calls."""
    config = tmp_path / "stages.yaml"
    config.write_text(textwrap.dedent(f"""\
        planner: {{vendor: {surface.vendor}, model: {surface.model}, timeout: 60s}}
        coder:
          vendor: {surface.vendor}
          model: {surface.model}
          timeout: 90s
          base_url: "{server.url}"
        """))
    attempt = load_plan(config).stages["coder"].attempts[0]
    messages: tuple[Message, ...] = (Message("user", QUESTION),)
    tools = (READ,) if attempt.vendor.surface == "sdk" else ()
    usage, cost = Usage(), 0.0
    while True:
        request = ModelRequest(attempt.settings(), "You answer questions about code.", messages,
                               time.monotonic() + 80, tools=tools)
        response = attempt.vendor.complete(request, runner=sandbox)
        usage = Usage(usage.input_tokens + response.usage.input_tokens,
                      usage.output_tokens + response.usage.output_tokens)
        cost += response.cost_usd
        if not response.tool_calls:
            return response, usage, cost
        results = tuple(ToolResult(c.id, sandbox.read_file(str(c.arguments["path"])))
                        for c in response.tool_calls)
        messages = (*messages, response.as_message(), Message("user", tool_results=results))


@pytest.mark.parametrize("name", list(SURFACES))
def test_the_same_conversation_on_every_surface(
        name: str, servers: dict[type[ScriptedHandler], LoopbackServer],
        cli_sandbox: DockerSandbox, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    surface = SURFACES[name]
    for env, value in KEYS.items():
        monkeypatch.setenv(env, value)
    server = servers[surface.handler]
    server.reset()
    server.queue(*surface.replies)

    final, usage, cost = converse(surface, server, cli_sandbox, tmp_path)

    assert (final.text, final.stop_reason, final.tool_calls) == (ANSWER, "end_turn", ())
    assert (usage.input_tokens, usage.output_tokens) == (2200, 150)
    price = load_plan_price(surface, tmp_path)
    expected = (2200 * price[0] + 150 * price[1]) / 1e6
    assert cost == pytest.approx(expected)
    assert round(cost, 2) == round(expected, 2)
    first, second = list(server.posts())[:2]
    assert QUESTION in json.dumps(first.body)
    assert GREET in surface.tool_result(second).replace('\\"', '"')  # the file went back


def load_plan_price(surface: Surface, tmp_path: Path) -> tuple[float, float]:
    attempt = load_plan(tmp_path / "stages.yaml").stages["coder"].attempts[0]
    price = attempt.entry.price
    return price.input, price.output
