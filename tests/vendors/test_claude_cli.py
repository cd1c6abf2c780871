"""The claude-cli vendor: the real pinned ``claude`` inside the ticket's container, talking to the
loopback Messages API through the egress proxy. What the CLI sends, what comes back, and how every
fault ends: within the deadline, with its own error class, and without leaving a key in the run
directory or a process in the container."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, status, text, tool_use
from harness.fakes.loopback import LoopbackServer, Reply
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.stages import Attempt, RunPlan, load_plan
from harness.vendors.errors import (
    CliCrashError,
    ContextTooLongError,
    MalformedResponseError,
    RateLimitedError,
    RefusalError,
    TransientVendorError,
    TruncatedError,
    VendorAuthError,
    VendorError,
    VendorTimeoutError,
)
from harness.vendors.types import Message, ModelRequest, ModelResponse, ToolCall, ToolResult
from tests.vendors.cli_fixtures import (  # noqa: F401 - fixtures
    MCP_STDIO_SERVER,
    cli_image,
    cli_sandbox,
    docker_client,
)

pytestmark = pytest.mark.docker  # every test here needs the engine

KEY = "sk-ant-test-0123456789abcdef"
GREET = 'exports.greet = (n) => "hello " + n;'
STAGES = """\
coder:
  vendor: claude-cli
  model: opus
  timeout: 120s
  retry_budget: 1
  on_retry:
    compute: increased
  base_url: {url}
planner:
  vendor: claude-cli
  model: sonnet-4-5
  timeout: 60s
  compute: high
  max_output_tokens: 20000
  base_url: {url}
  vendor_options: {{max_turns: 1}}
"""


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    # One server for the module (a shutdown waits out serve_forever's poll), on the host's
    # loopback: the CLI in the container reaches it through the egress proxy only.
    with LoopbackServer(AnthropicHandler) as srv:
        yield srv


@pytest.fixture
def server(shared_server: LoopbackServer,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    shared_server.reset()
    yield shared_server
    shared_server.release.set()  # free a scripted hang before the next test
    shared_server.release.clear()
    shared_server.replies.clear()


@pytest.fixture
def plan(server: LoopbackServer, tmp_path: Path) -> RunPlan:
    path = tmp_path / "stages.yaml"
    path.write_text(textwrap.dedent(STAGES.format(url=server.url)), encoding="utf-8")
    return load_plan(path)


@pytest.fixture
def sandbox(cli_sandbox: DockerSandbox) -> DockerSandbox:  # noqa: F811
    return cli_sandbox


def ask(attempt: Attempt, runner: DockerSandbox | None, *, seconds: float = 60.0,
        system: str = "You are a coder.",
        messages: tuple[Message, ...] = (Message("user", "What does greet do?"),),
        **extra: Any) -> ModelResponse:
    request = ModelRequest(attempt.settings(), system, messages, time.monotonic() + seconds,
                           **extra)
    return attempt.vendor.complete(request, runner=runner)


def bodies(server: LoopbackServer) -> list[dict[str, Any]]:
    return [r.body for r in server.posts()]


def coder(plan: RunPlan, number: int = 1) -> Attempt:
    return plan.stages["coder"].attempts[number - 1]


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for m in body["messages"] if isinstance(m["content"], list)
            for block in m["content"] if block.get("type") == "tool_result"]


def prompt_text(body: dict[str, Any]) -> str:
    """Everything the first user turn says (the CLI puts its own reminders beside ours)."""
    first = next(m for m in body["messages"] if m["role"] == "user")
    return "\n".join(b.get("text", "") for b in first["content"])


# The image has no ps: list processes from /proc (pid and command line, one a line).
PS = """\
import os
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            line = f.read().replace(b"\\0", b" ").replace(b"\\n", b" ")[:200]
        print(pid, line.decode(errors="replace").strip())
    except OSError:
        pass
"""


def leftovers(sandbox: DockerSandbox) -> list[str]:
    """Processes in the container other than its init (PID 1) and this listing (with the exec
    supervisor that runs it)."""
    ps = sandbox.exec(["python3", "-c", PS], timeout=10)
    assert ps.exit_code == 0, ps.stderr
    lines = ps.stdout.splitlines()
    assert any(line.startswith("1 ") for line in lines)  # the listing sees the container
    return [line for line in lines
            if not line.startswith("1 ") and not any(
                mine in line for mine in ("hx_exec.py", "python3 -c import os"))]


# ---- the standard conversation ---------------------------------------------------------------


def test_the_standard_conversation(server: LoopbackServer, plan: RunPlan,
                                   sandbox: DockerSandbox) -> None:
    server.queue(
        tool_use("Read", {"file_path": "/workspace/src/greet.js"}, text_before="Reading.",
                 input_tokens=1000, output_tokens=500, cache_read_input_tokens=20000,
                 cache_creation_input_tokens=2000),
        text("greet(n) returns 'hello ' + n.", input_tokens=2000, output_tokens=1500,
             cache_read_input_tokens=30000, thinking_tokens=300))
    answer = ask(coder(plan), sandbox)
    assert (answer.text, answer.stop_reason, answer.tool_calls) == (
        "greet(n) returns 'hello ' + n.", "end_turn", ())
    # The CLI ran Read itself, in the container, and sent the file back with the next turn.
    first, second = bodies(server)
    (result,) = tool_results(second)
    assert result["tool_use_id"] == "toolu_01"
    assert GREET in result["content"]  # as the CLI's Read shows it: "1\t" + the line
    assert "What does greet do?" in prompt_text(first)
    assert "You are a coder." in json.dumps(first["system"])  # --append-system-prompt-file
    # Usage summed over both turns; cost from the catalog's claude-opus-5-5 prices (per
    # million: input 4, output 20, cache_write 5, cache_read 0.2):
    # 3000*4 + 2000*20 + 2000*5 + 50000*0.2 = 12000 + 40000 + 10000 + 10000 = 72000 -> $0.072
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.cache_read_tokens,
            answer.usage.cache_write_tokens, answer.usage.thinking_tokens) == (
                3000, 2000, 50000, 2000, 300)
    assert round(answer.cost_usd, 2) == 0.07
    assert answer.cost_usd == pytest.approx(0.072)
    assert answer.model_id == "claude-opus-5-5"
    assert uuid.UUID(str(answer.request_id))  # the CLI's session id
    assert 0 < answer.latency_s < 30


def test_earlier_turns_become_a_transcript(server: LoopbackServer, plan: RunPlan,
                                           sandbox: DockerSandbox) -> None:
    server.queue(text("done"))
    history = (Message("user", "Fix the greeting."),
               Message("assistant", "Let me look.", tool_calls=(
                   ToolCall("toolu_9", "read_file", {"path": "src/greet.js"}),)),
               Message("user", "Now say what it does.",
                       tool_results=(ToolResult("toolu_9", "FILE-CONTENT-1234"),)))
    assert ask(coder(plan), sandbox, messages=history).text == "done"
    said = prompt_text(bodies(server)[0])
    assert said.index("Fix the greeting.") < said.index("Let me look.") < said.index(
        "FILE-CONTENT-1234") < said.index("Now say what it does.")
    assert 'read_file {"path": "src/greet.js"}' in said
    assert '<turn role="assistant">' in said


# ---- what the CLI sends -------------------------------------------------------------------


def test_effort_rises_on_an_increased_retry(server: LoopbackServer, plan: RunPlan,
                                            sandbox: DockerSandbox) -> None:
    server.queue(text("one"), text("two"))
    assert ask(coder(plan, 1), sandbox).text == "one"
    assert ask(coder(plan, 2), sandbox).text == "two"
    first, second = bodies(server)
    assert first["model"] == second["model"] == "claude-opus-5-5"
    assert first["output_config"] == {"effort": "medium"}  # compute defaults to medium
    assert second["output_config"] == {"effort": "high"}  # increased: one tier up
    rec = next(server.posts())
    assert rec.headers["x-api-key"] == KEY
    assert rec.headers["user-agent"].startswith("claude-cli/2.1.332")


def test_budget_model_gets_a_thinking_budget(server: LoopbackServer, plan: RunPlan,
                                             sandbox: DockerSandbox) -> None:
    server.queue(text("42"))
    assert ask(plan.stages["planner"].attempts[0], sandbox).text == "42"
    (body,) = bodies(server)
    assert body["model"] == "claude-sonnet-4-5"
    assert body["thinking"]["type"] == "enabled"
    assert body["thinking"]["budget_tokens"] == 16384  # tier high, via --max-thinking-tokens
    assert body["max_tokens"] == 20000  # the stage's max_output_tokens
    assert "output_config" not in body or body["output_config"] is None


def test_structured_output_through_json_schema(server: LoopbackServer, plan: RunPlan,
                                               sandbox: DockerSandbox) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}},
              "required": ["answer"]}
    server.queue(tool_use("StructuredOutput", {"answer": 42}))
    answer = ask(coder(plan), sandbox, output_schema=schema)
    assert (json.loads(answer.text), answer.stop_reason) == ({"answer": 42}, "end_turn")
    (body,) = bodies(server)
    tool = next(t for t in body["tools"] if t["name"] == "StructuredOutput")
    assert tool["input_schema"] == schema


def test_a_large_prompt_is_staged_in_pieces(server: LoopbackServer, plan: RunPlan,
                                            sandbox: DockerSandbox) -> None:
    # More than one exec request can carry (128 KiB per argv string), and not all ASCII.
    system = "".join(f"rule {n}: greet politely ✓\n" for n in range(12_000))
    question = "Wie grüßt greet? 👋 " + "x" * 150_000
    server.queue(text("Hallo"))
    assert ask(coder(plan), sandbox, system=system,
               messages=(Message("user", question),)).text == "Hallo"
    (body,) = bodies(server)
    assert system.strip() in "".join(b["text"] for b in body["system"])
    assert question in prompt_text(body)


def test_base_url_from_the_environment(server: LoopbackServer, plan: RunPlan,
                                       sandbox: DockerSandbox,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    attempt = Attempt(**{**coder(plan).__dict__, "base_url": None})
    server.queue(text("via env"))
    assert ask(attempt, sandbox).text == "via env"


def test_a_subscription_token(server: LoopbackServer, plan: RunPlan, sandbox: DockerSandbox,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    token = "sk-ant-oat01-test-0123456789abcdef"  # shaped like `claude setup-token` output
    monkeypatch.setenv("CLAUDE_CODE_OAUTH_TOKEN", token)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    attempt = Attempt(**{**coder(plan).__dict__, "api_key_env": "CLAUDE_CODE_OAUTH_TOKEN"})
    server.queue(text("as a subscriber"))
    assert ask(attempt, sandbox).text == "as a subscriber"
    headers = next(server.posts()).headers
    assert headers["authorization"] == f"Bearer {token}"
    assert "x-api-key" not in headers
    assert "oauth-2025-04-20" in headers["anthropic-beta"]


# ---- what comes back, when it is not an answer -----------------------------------------------


def test_max_turns_is_truncated(server: LoopbackServer, plan: RunPlan,
                                sandbox: DockerSandbox) -> None:
    server.queue(tool_use("Bash", {"command": "true"}), tool_use("Bash", {"command": "true"}))
    with pytest.raises(TruncatedError, match="max-turns") as info:
        ask(plan.stages["planner"].attempts[0], sandbox)  # vendor_options max_turns: 1
    spent = info.value.spent  # the tokens the failed session used, for the run's meter
    assert spent.input_tokens + spent.cache_write_tokens > 0  # the CLI marks its prompt cached
    assert info.value.cost_usd == pytest.approx(spent.cost(
        plan.stages["planner"].attempts[0].entry.price))


def test_refusal(server: LoopbackServer, plan: RunPlan, sandbox: DockerSandbox) -> None:
    # The CLI answers a refusal once with a reminder; the second refusal is final.
    server.queue(*[Reply("refusal", {"text": "I can't help with that."})] * 2)
    with pytest.raises(RefusalError, match="refused"):
        ask(coder(plan), sandbox)


def test_prompt_too_long(server: LoopbackServer, plan: RunPlan, sandbox: DockerSandbox) -> None:
    server.queue(status(400, "prompt is too long: 1200000 tokens > 1000000 maximum"))
    with pytest.raises(ContextTooLongError):
        ask(coder(plan), sandbox)


@pytest.mark.parametrize("reply", [
    Reply("garbage"),
    Reply("garbage", {"content_type": "application/json", "body": "{not json"}),
], ids=["html", "bad-json"])
def test_garbage_is_malformed(server: LoopbackServer, plan: RunPlan, sandbox: DockerSandbox,
                              reply: Reply) -> None:
    server.queue(reply, reply)  # the CLI retries a malformed answer once, without streaming
    with pytest.raises(MalformedResponseError, match="malformed"):
        ask(coder(plan), sandbox)
    assert len(bodies(server)) == 2


def test_a_cli_that_fails_to_start_is_a_crash(server: LoopbackServer, plan: RunPlan,
                                              sandbox: DockerSandbox) -> None:
    with pytest.raises(CliCrashError, match="without a result"):
        ask(coder(plan), sandbox, output_schema={"type": "no-such-type"})
    assert bodies(server) == []


# ---- faults, each ended within the deadline --------------------------------------------------


# The CLI's Bash tool refuses a bare ``sleep N`` and runs each command in its own process group.
SLEEPER = 'python3 -c "import time; time.sleep(300)"'


@pytest.mark.parametrize("first", [
    Reply("hang"),  # the API accepts and never answers
    tool_use("Bash", {"command": SLEEPER}),  # a command the CLI runs outlives the deadline
], ids=["api", "tool"])
def test_hang_ends_at_the_deadline(server: LoopbackServer, plan: RunPlan,
                                   sandbox: DockerSandbox, first: Reply) -> None:
    server.queue(first, Reply("hang"))
    seconds = 6.0
    start = time.monotonic()
    with pytest.raises(VendorTimeoutError, match="deadline"):
        ask(coder(plan), sandbox, seconds=seconds)
    assert seconds - 1.0 < time.monotonic() - start < seconds + 1.0
    assert leftovers(sandbox) == []  # claude, its tools and the watcher are all gone
    tmp = sandbox.exec(["ls", "-A", "/tmp"], timeout=10).stdout
    assert "harness-claude" not in tmp  # the session's config and prompt too


def test_what_a_session_starts_does_not_outlive_it(server: LoopbackServer, plan: RunPlan,
                                                     sandbox: DockerSandbox) -> None:
    server.queue(tool_use("Bash", {"command": f"setsid {SLEEPER} >/dev/null 2>&1 & echo up"}),
                 text("started it"))
    assert ask(coder(plan), sandbox).text == "started it"
    assert "up" in tool_results(bodies(server)[1])[0]["content"]
    assert leftovers(sandbox) == []


def test_rate_limit_then_success(server: LoopbackServer, plan: RunPlan,
                                 sandbox: DockerSandbox) -> None:
    server.queue(status(429, retry_after=1), text("fine"))
    start = time.monotonic()
    assert ask(coder(plan), sandbox).text == "fine"
    assert time.monotonic() - start >= 1  # retry-after honoured by the CLI
    assert len(bodies(server)) == 2


def test_rate_limit_longer_than_the_deadline(server: LoopbackServer, plan: RunPlan,
                                             sandbox: DockerSandbox) -> None:
    server.queue(status(429, retry_after=30))
    start = time.monotonic()
    with pytest.raises(RateLimitedError, match="after the stage deadline"):
        ask(coder(plan), sandbox, seconds=10)
    assert time.monotonic() - start < 5  # not waited out: the retry could never be in time
    assert len(bodies(server)) == 1


def test_auth_refused_is_not_retried(server: LoopbackServer, plan: RunPlan,
                                     sandbox: DockerSandbox) -> None:
    server.queue(status(401, f"invalid x-api-key {KEY}"), text("never sent"))
    with pytest.raises(VendorAuthError, match="ANTHROPIC_API_KEY") as info:
        ask(coder(plan), sandbox)
    assert KEY not in str(info.value)
    assert len(bodies(server)) == 1  # the CLI would retry a 401; the watcher stops it


def test_server_errors_until_the_deadline(server: LoopbackServer, plan: RunPlan,
                                          sandbox: DockerSandbox) -> None:
    seconds = 8.0
    start = time.monotonic()  # nothing queued: every request gets the unscripted 500
    with pytest.raises(TransientVendorError, match="HTTP 500"):
        ask(coder(plan), sandbox, seconds=seconds)
    assert time.monotonic() - start < seconds
    assert len(bodies(server)) >= 3  # the CLI's own retries, while they fit


def test_key_never_appears_in_errors(server: LoopbackServer, plan: RunPlan,
                                     sandbox: DockerSandbox) -> None:
    # The CLI answers an unexplained 400 by resending without one beta header after another
    # (six requests in all) before it gives up on it.
    server.queue(*[status(400, f"what is {KEY}?")] * 8)
    with pytest.raises(VendorError, match="HTTP 400") as info:
        ask(coder(plan), sandbox)
    assert not info.value.retryable
    assert KEY not in str(info.value)
    assert "[redacted]" in str(info.value)


# ---- the key and the host ------------------------------------------------------------------


def test_no_key_lands_in_the_run_directory(server: LoopbackServer, plan: RunPlan,
                                           sandbox: DockerSandbox) -> None:
    # A session that runs commands, writes a file and prints its own environment.
    server.queue(tool_use("Bash", {"command": "env | sort; pwd"}),
                 tool_use("Write", {"file_path": "/workspace/NOTES.md", "content": "notes\n"},
                          call_id="toolu_02"),
                 text("done"))
    assert ask(coder(plan), sandbox).text == "done"
    assert (sandbox.workspace.path / "NOTES.md").read_text() == "notes\n"
    run_dir = sandbox.workspace.path.parent
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert files  # the worktree and its git metadata are there to search
    assert [p for p in files if KEY.encode() in p.read_bytes()] == []
    # Nor anywhere the CLI could write in the container; its session directory is gone.
    grep = sandbox.exec(["grep", "-rl", "--", KEY, "/tmp", "/workspace"], timeout=30)
    assert (grep.exit_code, grep.stdout) == (1, "")
    assert leftovers(sandbox) == []


def test_missing_key_runs_nothing(server: LoopbackServer, plan: RunPlan, sandbox: DockerSandbox,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(VendorAuthError, match="ANTHROPIC_API_KEY"):
        ask(coder(plan), sandbox)
    assert server.requests == []


def test_never_on_the_host(server: LoopbackServer, plan: RunPlan) -> None:
    with pytest.raises(CliCrashError, match="never runs on the host"):
        ask(coder(plan), None)
    assert server.requests == []


# ---- MCP ---------------------------------------------------------------------------------------



def test_an_mcp_server_by_url_is_reached_through_the_proxy(server: LoopbackServer, plan: RunPlan,
                                                          sandbox: DockerSandbox) -> None:
    """The container has no network: a stage's MCP server given by URL (here on the host's
    loopback) is reached through the egress proxy, which forwards it as it is."""
    from harness.config.schema import McpServerConfig  # noqa: PLC0415
    from tests.vendors.mcp_http_server import McpHttpHandler  # noqa: PLC0415

    with LoopbackServer(McpHttpHandler) as mcp:
        docs = McpServerConfig(name="docs", url=f"{mcp.url}/mcp")
        server.queue(tool_use("mcp__docs__lookup_symbol", {"name": "greet"}),
                     text("greet lives in src/greet.js"))
        answer = ask(coder(plan), sandbox, mcp_servers=(docs,))
        assert answer.text == "greet lives in src/greet.js"
        calls = [r.body.get("method") for r in mcp.posts() if isinstance(r.body, dict)]
        assert {"initialize", "tools/call"} <= set(calls)
        assert {r.path for r in mcp.requests} == {"/mcp"}
    (result,) = tool_results(bodies(server)[1])
    assert "src/greet.js" in json.dumps(result["content"])


def test_the_stage_mcp_servers_reach_the_cli(server: LoopbackServer, plan: RunPlan,
                                             sandbox: DockerSandbox) -> None:
    from harness.config.schema import McpServerConfig  # noqa: PLC0415

    sandbox.write_file("tools/mcp_symbols.py", MCP_STDIO_SERVER.read_text())
    symbols = McpServerConfig(name="symbols",
                              command=["python3", "/workspace/tools/mcp_symbols.py"])
    server.queue(tool_use("mcp__symbols__lookup_symbol", {"name": "greet"}),
                 text("greet lives in src/greet.js"))
    answer = ask(coder(plan), sandbox, mcp_servers=(symbols,))
    assert answer.text == "greet lives in src/greet.js"
    first, second = bodies(server)
    # The CLI defers MCP tools (a placeholder plus their names in the prompt); the call still
    # reaches the server started from the stage's config, and its answer comes back.
    assert "mcp__symbols__lookup_symbol" in json.dumps(first)
    (result,) = tool_results(second)
    assert not result.get("is_error"), result
    assert "src/greet.js" in json.dumps(result["content"])


# ---- read-only stages ------------------------------------------------------------------------


@pytest.mark.parametrize(("read_only", "offered"), [(False, True), (True, False)])
def test_a_read_only_stage_gets_no_file_writing_tools(server: LoopbackServer, plan: RunPlan,
                                                      sandbox: DockerSandbox, read_only: bool,
                                                      offered: bool) -> None:
    server.queue(text("done"))
    ask(coder(plan), sandbox, read_only=read_only)
    names = {t["name"] for t in bodies(server)[0].get("tools", [])}
    assert {"Read", "Bash"} <= names  # reading and running stay
    assert ({"Edit", "Write"} <= names) is offered
    assert bool(names & {"Edit", "MultiEdit", "Write", "NotebookEdit"}) is offered
