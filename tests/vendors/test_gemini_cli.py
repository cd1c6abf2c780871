"""The gemini-cli vendor: the real, pinned ``gemini`` CLI in the ticket's container, talking to a
loopback Gemini API server on the Docker bridge. No mocks: requests are asserted on what the CLI
put on the wire, faults on the error class, the requests made and the time against the deadline.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.fakes.gemini_server import (
    GeminiHandler,
    function_declarations,
    generation_config,
    parts_of,
    pick,
    thinking_config,
)
from harness.fakes.loopback import LoopbackServer, Recorded, Reply
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.stages import Attempt, load_plan
from harness.vendors.errors import (
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
from harness.vendors.gemini_cli.vendor import GeminiCliVendor
from harness.vendors.types import (
    Message,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolResult,
)
from tests.vendors.cli_fixtures import cli_image, cli_sandbox, docker_client  # noqa: F401

pytestmark = pytest.mark.docker  # every test here needs the engine

KEY = "AIzaTEST0123456789abcdefghijklmnop"
SYSTEM = "You are the harness coder. Cite @src/greet.js and `@keep` as written."
STAGES = """\
planner:
  vendor: gemini-cli
  model: gemini-3-flash          # gemini-3-flash-preview
  timeout: 120s
  vendor_options: {{max_session_turns: 1}}
  base_url: {url}
coder:
  vendor: gemini-cli
  model: gemini-pro              # gemini-3.1-pro-preview: levels low..high
  timeout: 120s
  compute: low
  retry_budget: 1
  on_retry:
    compute: increased
  base_url: {url}
reviewer:
  vendor: gemini-cli
  model: gemini-2.5-flash        # steered by a token budget
  timeout: 120s
  compute: medium
  base_url: {url}
"""
# gemini-3.5-flash: the CLI would call gemini-3.8-flash instead.
SWAPPED = """\
debugger:
  vendor: gemini-cli
  model: gemini-flash
  timeout: 120s
"""


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(GeminiHandler) as running:
        yield running


@pytest.fixture
def sandbox(cli_sandbox: DockerSandbox) -> DockerSandbox:  # noqa: F811
    return cli_sandbox


@pytest.fixture
def srv(server: LoopbackServer) -> LoopbackServer:
    server.reset()
    return server


@pytest.fixture
def attempts(srv: LoopbackServer, write: Callable[[str], Path],
             monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[Attempt, ...]]:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    plan = load_plan(write(STAGES.format(url=srv.url)), shown_as="stages.yaml")
    return {role: stage.attempts for role, stage in plan.stages.items()}


def call(attempt: Attempt, sandbox: DockerSandbox | None, *, seconds: float = 40.0,
         prompt: str = "What does src/greet.js do?", **extra: Any) -> ModelResponse:
    request = ModelRequest(attempt.settings(), SYSTEM, (Message("user", prompt),),
                           time.monotonic() + seconds, **extra)
    return attempt.vendor.complete(request, runner=sandbox)


def posts(srv: LoopbackServer) -> list[Recorded]:
    return list(srv.posts())


def processes(sandbox: DockerSandbox) -> list[str]:
    """Command lines of every process in the container but the ones listing them."""
    code = ("import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
            "    try: print(open('/proc/%s/cmdline' % p).read().replace('\\0', ' '))\n"
            "    except OSError: pass\n")
    listed = sandbox.exec(["python3", "-c", code], timeout=20).stdout.splitlines()
    return [p for p in listed if "hx_exec.py" not in p and "python3 -c" not in p]


# -- the standard conversation -------------------------------------------------------------


def test_the_standard_conversation(srv: LoopbackServer, sandbox: DockerSandbox,
                                   attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """Text and a call of the CLI's own read_file tool, which it runs on /workspace and answers
    with the file's content; then the final answer. Usage is summed over both requests."""
    srv.queue(
        Reply("function_call", {"text": "Reading it.",
                                "calls": [{"name": "read_file",
                                           "args": {"file_path": "src/greet.js"}}],
                                "usage": {"promptTokenCount": 300_000,
                                          "cachedContentTokenCount": 100_000,
                                          "candidatesTokenCount": 20_000,
                                          "thoughtsTokenCount": 5_000}}),
        Reply("text", {"text": "It greets by name.", "chunks": 2,
                       "usage": {"promptTokenCount": 400_000,
                                 "cachedContentTokenCount": 250_000,
                                 "candidatesTokenCount": 10_000,
                                 "thoughtsTokenCount": 15_000}}))
    got = call(attempts["coder"][0], sandbox)
    assert got.text == "It greets by name."
    assert (got.stop_reason, got.tool_calls, got.model_id) == (
        "end_turn", (), "gemini-3.1-pro-preview")
    assert got.request_id  # the CLI's session id
    u = got.usage
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.thinking_tokens) == (
        350_000, 350_000, 50_000, 20_000)
    # gemini-3.1-pro-preview: input 2.00, output 12.00, cache_read 0.20 per million.
    # 350k x 2.00 + 50k x 12.00 + 350k x 0.20 = 0.70 + 0.60 + 0.07 = $1.37
    assert round(got.cost_usd, 2) == 1.37
    assert 0 < got.latency_s < 40
    ask, answer = posts(srv)
    assert ask.path == "/v1beta/models/gemini-3.1-pro-preview:streamGenerateContent?alt=sse"
    assert ask.headers["x-goog-api-key"] == KEY
    assert parts_of(ask.body, "text")[-1] == ("user", "What does src/greet.js do?")
    # The system text reaches the system instruction as written (imports are not expanded).
    system = pick(ask.body, "systemInstruction")["parts"][0]["text"]
    assert "You are the harness coder. Cite `@src/greet.js` and `@keep` as written." in system
    ((_, result),) = parts_of(answer.body, "functionResponse")
    assert result["name"] == "read_file"
    assert result["response"] == {"output": 'exports.greet = (n) => "hello " + n;\n'}


# -- what the CLI sends ----------------------------------------------------------------------


def test_thinking_level_rises_on_retry(srv: LoopbackServer, sandbox: DockerSandbox,
                                       attempts: dict[str, tuple[Attempt, ...]]) -> None:
    first, second = attempts["coder"]
    assert (str(first.control), str(second.control)) == (
        "settings.json thinkingConfig.thinkingLevel=low",
        "settings.json thinkingConfig.thinkingLevel=medium")
    srv.queue(Reply("text", {"text": "one"}), Reply("text", {"text": "two"}))
    assert call(first, sandbox).text == "one"
    assert call(second, sandbox).text == "two"
    one, two = posts(srv)
    assert "/models/gemini-3.1-pro-preview:" in one.path
    assert thinking_config(one.body) == {"includeThoughts": True, "thinkingLevel": "LOW"}
    assert thinking_config(two.body) == {"includeThoughts": True, "thinkingLevel": "MEDIUM"}
    assert generation_config(one.body)["maxOutputTokens"] == 65536


def test_thinking_budget_for_gemini_2_5(srv: LoopbackServer, sandbox: DockerSandbox,
                                        attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("text", {"text": "ok"}))
    call(attempts["reviewer"][0], sandbox)
    (sent,) = posts(srv)
    assert "/models/gemini-2.5-flash:" in sent.path
    assert thinking_config(sent.body) == {"includeThoughts": True, "thinkingBudget": 8192}


def test_a_model_the_cli_would_swap_is_refused(srv: LoopbackServer, sandbox: DockerSandbox,
                                               write: Callable[[str], Path]) -> None:
    swap = r"gemini-3\.5-flash requests to gemini-3\.8-flash"
    with pytest.raises(ConfigError, match=swap):  # harness check refuses the config
        load_plan(write(STAGES.format(url=srv.url) + SWAPPED), shown_as="stages.yaml")
    # and the vendor refuses the call, whatever built its settings
    google = load_plan(write(SWAPPED.replace("gemini-cli", "google") + STAGES.format(
        url=srv.url).split("reviewer:")[0])).stages["debugger"].attempts[0]
    request = ModelRequest(google.settings(), SYSTEM, (Message("user", "hi"),),
                           time.monotonic() + 30)
    with pytest.raises(VendorError, match=swap):
        GeminiCliVendor().complete(request, runner=sandbox)
    assert posts(srv) == []


def test_earlier_turns_reach_the_prompt_as_a_transcript(
        srv: LoopbackServer, sandbox: DockerSandbox,
        attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("text", {"text": "ok"}))
    asked = ToolCall("c1", "read_file", {"path": "README.md"})
    history = (Message("user", "Read the README."), Message("assistant", "Sure.", (asked,)),
               Message("user", "Now summarise it.", tool_results=(ToolResult("c1", "# demo"),)))
    request = ModelRequest(attempts["coder"][0].settings(), SYSTEM, history,
                           time.monotonic() + 40)
    assert attempts["coder"][0].vendor.complete(request, runner=sandbox).text == "ok"
    prompt = parts_of(posts(srv)[0].body, "text")[-1][1]
    assert prompt == (
        "The conversation so far, oldest turn first:\n<conversation>\n"
        '<turn role="user">\nRead the README.\n</turn>\n'
        '<turn role="assistant">\nSure.\n[tool call c1: read_file {"path": "README.md"}]\n</turn>'
        "\n</conversation>\n\nThe current request:\n"
        "[result of tool call c1]\n# demo\nNow summarise it.")


def test_a_prompt_larger_than_an_exec_argument(srv: LoopbackServer, sandbox: DockerSandbox,
                                               attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """Linux caps one argv string at 128 KiB: the prompt is staged in pieces, read on stdin."""
    big = "".join(f"line {i}: ünïcode ✓\n" for i in range(20_000))  # about 480 KB
    srv.queue(Reply("text", {"text": "read it"}))
    assert call(attempts["coder"][0], sandbox, prompt=big).text == "read it"
    assert parts_of(posts(srv)[0].body, "text")[-1][1] == big


def test_output_schema_is_asked_for_and_parsed(srv: LoopbackServer, sandbox: DockerSandbox,
                                               attempts: dict[str, tuple[Attempt, ...]]) -> None:
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}},
              "required": ["verdict"]}
    srv.queue(Reply("text", {"text": 'Done.\n```json\n{"verdict": "ok"}\n```'}),
              Reply("text", {"text": "Looks fine to me."}))
    got = call(attempts["coder"][0], sandbox, output_schema=schema)
    assert json.loads(got.text) == {"verdict": "ok"}
    assert json.dumps(schema) in parts_of(posts(srv)[0].body, "text")[-1][1]
    with pytest.raises(MalformedResponseError, match="not the JSON"):
        call(attempts["coder"][0], sandbox, output_schema=schema)


# -- faults ----------------------------------------------------------------------------------


def test_hang_is_stopped_at_the_deadline_with_nothing_left_running(
        srv: LoopbackServer, sandbox: DockerSandbox,
        attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """The first turn starts a background command (its own process group, out of reach of the
    exec's group kill); the next request never gets an answer."""
    sleep = {"command": "sleep 600 >/dev/null 2>&1 & echo started", "description": "sleep"}
    srv.queue(Reply("function_call", {"calls": [{"name": "run_shell_command", "args": sleep}]}),
              Reply("hang"))
    start = time.monotonic()
    with pytest.raises(VendorTimeoutError, match="deadline"):
        call(attempts["coder"][0], sandbox, seconds=8.0)
    assert 8.0 <= time.monotonic() - start < 13.0  # the deadline + slack
    ((_, ran),) = parts_of(posts(srv)[1].body, "functionResponse")
    assert "started" in ran["response"]["output"]
    left = processes(sandbox)
    assert any(p.startswith("python3 -I -c") for p in left)  # the container's init, listed
    assert not [p for p in left if "gemini" in p or "sleep 600" in p], left


def test_rate_limit_then_success(srv: LoopbackServer, sandbox: DockerSandbox,
                                 attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("status", {"code": 429}), Reply("text", {"text": "ok"}))
    assert call(attempts["coder"][0], sandbox).text == "ok"
    assert len(posts(srv)) == 2


def test_rate_limit_until_the_deadline(srv: LoopbackServer, sandbox: DockerSandbox,
                                       attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(*[Reply("status", {"code": 429})] * 10)
    start = time.monotonic()
    with pytest.raises(RateLimitedError, match="429"):
        call(attempts["coder"][0], sandbox, seconds=12.0)
    assert time.monotonic() - start < 12.0
    assert len(posts(srv)) >= 2


def test_refused_key_is_never_retried(srv: LoopbackServer, sandbox: DockerSandbox,
                                      attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("status", {"code": 401, "message": f"key {KEY} refused"}))
    with pytest.raises(VendorAuthError) as info:
        call(attempts["coder"][0], sandbox)
    assert len(posts(srv)) == 1
    assert "GEMINI_API_KEY" in str(info.value)
    assert KEY not in str(info.value)


def test_server_errors_end_within_the_deadline(srv: LoopbackServer, sandbox: DockerSandbox,
                                               attempts: dict[str, tuple[Attempt, ...]]) -> None:
    start = time.monotonic()  # nothing queued: every request gets a 500
    with pytest.raises(TransientVendorError, match="500") as info:
        call(attempts["coder"][0], sandbox, seconds=12.0)
    assert time.monotonic() - start < 12.0
    assert len(posts(srv)) >= 2
    assert KEY not in str(info.value)


def test_a_model_the_cli_retries_on_its_own_terms_is_stopped_at_the_deadline(
        srv: LoopbackServer, sandbox: DockerSandbox,
        attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """gemini-3-flash-preview is in the CLI's fallback chain, whose policy allows 10 tries
    whatever general.maxAttempts says: the deadline ends it, naming the fault it retried."""
    start = time.monotonic()  # nothing queued: every request gets a 500
    with pytest.raises(VendorTimeoutError, match=r"last retry notice: Attempt [2-9] failed with "
                                                 r"status 500\. Retrying"):
        call(attempts["planner"][0], sandbox, seconds=12.0)  # maxAttempts would be 2
    assert 12.0 <= time.monotonic() - start < 17.0  # the deadline, plus a loaded machine's slack
    assert len(posts(srv)) >= 2


def test_garbage_is_malformed(srv: LoopbackServer, sandbox: DockerSandbox,
                              attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(*[Reply("garbage")] * 30)
    with pytest.raises(MalformedResponseError, match="not its stream format"):
        call(attempts["coder"][0], sandbox, seconds=15.0)
    assert 1 <= len(posts(srv)) <= 4  # the CLI retries a bad stream a little, then gives up


@pytest.mark.parametrize("case", [
    ("safety", RefusalError, "blocked"),
    ("truncated_stream", TransientVendorError, "dropped"),
])
def test_answers_the_cli_gives_up_on(srv: LoopbackServer, sandbox: DockerSandbox,
                                     attempts: dict[str, tuple[Attempt, ...]],
                                     case: tuple[str, type[VendorError], str]) -> None:
    reply, error, said = case
    srv.queue(*[Reply(reply)] * 5)
    with pytest.raises(error, match=said):
        call(attempts["coder"][0], sandbox, seconds=20.0)


def test_turn_limit_is_truncation(srv: LoopbackServer, sandbox: DockerSandbox,
                                  attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("function_call", {"calls": [{"name": "read_file",
                                                 "args": {"file_path": "README.md"}}]}),
              Reply("text", {"text": "never asked for"}))
    with pytest.raises(TruncatedError, match="max_session_turns"):
        call(attempts["planner"][0], sandbox)
    assert len(posts(srv)) == 1


def test_token_limit_is_context_too_long(srv: LoopbackServer, sandbox: DockerSandbox,
                                         attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("status", {"code": 400, "message": "The input token count (2000000) "
                               "exceeds the maximum number of tokens allowed (1048576)."}))
    with pytest.raises(ContextTooLongError):
        call(attempts["coder"][0], sandbox)
    assert len(posts(srv)) == 1


def test_missing_key_fails_before_anything_runs(srv: LoopbackServer, sandbox: DockerSandbox,
                                                attempts: dict[str, tuple[Attempt, ...]],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(VendorAuthError, match="GEMINI_API_KEY"):
        call(attempts["coder"][0], sandbox)
    assert posts(srv) == []


# -- the key and the host --------------------------------------------------------------------


def test_the_key_never_lands_in_the_run_directory(
        srv: LoopbackServer, sandbox: DockerSandbox,
        attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """The agent's own commands do not see the key either: env.txt is written by one."""
    srv.queue(Reply("function_call", {"calls": [{"name": "run_shell_command", "args": {
        "command": "env > env.txt", "description": "dump the environment"}}]}),
        Reply("text", {"text": "done"}))
    assert call(attempts["coder"][0], sandbox).text == "done"
    run_dir = sandbox.workspace.path.parent
    dumped = (sandbox.workspace.path / "env.txt").read_text()
    assert "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:7181" in dumped  # the egress proxy
    assert KEY not in dumped
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 3
    assert [p for p in files if KEY.encode() in p.read_bytes()] == []


def test_the_repository_cannot_redirect_the_key(srv: LoopbackServer, sandbox: DockerSandbox,
                                                attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """The CLI reads a workspace .env into its environment; the base URL is always set (the
    real API's when none is configured), and local .env files are ignored, so a repository
    cannot point the key at another server."""
    sandbox.write_file(".env", f"GOOGLE_GEMINI_BASE_URL={srv.url}\n")
    settings = dataclasses.replace(attempts["coder"][0].settings(), base_url=None)
    request = ModelRequest(settings, SYSTEM, (Message("user", "hi"),), time.monotonic() + 8)
    with pytest.raises(VendorError):  # the real API, unreachable from here
        attempts["coder"][0].vendor.complete(request, runner=sandbox)
    assert posts(srv) == []


def test_runner_none_is_refused(attempts: dict[str, tuple[Attempt, ...]]) -> None:
    with pytest.raises(VendorError, match="only inside the ticket's sandbox"):
        call(attempts["coder"][0], None)


# -- MCP ----------------------------------------------------------------------------------------


def test_the_stage_mcp_servers_reach_the_cli(srv: LoopbackServer, sandbox: DockerSandbox,
                                             attempts: dict[str, tuple[Attempt, ...]]) -> None:
    from harness.config.schema import McpServerConfig  # noqa: PLC0415
    from tests.vendors.cli_fixtures import MCP_STDIO_SERVER  # noqa: PLC0415

    sandbox.write_file("tools/mcp_symbols.py", MCP_STDIO_SERVER.read_text())
    symbols = McpServerConfig(name="symbols",
                              command=["python3", "/workspace/tools/mcp_symbols.py"])
    srv.queue(Reply("function_call", {"calls": [{"name": "mcp_symbols_lookup_symbol",
                                                 "args": {"name": "greet"}}]}),
              Reply("text", {"text": "greet lives in src/greet.js"}))
    got = call(attempts["coder"][0], sandbox, mcp_servers=(symbols,))
    assert got.text == "greet lives in src/greet.js"
    ask, answer = posts(srv)
    # The CLI names a server's tools mcp_<server>_<tool>.
    assert "mcp_symbols_lookup_symbol" in {d["name"] for d in function_declarations(ask.body)}
    ((_, result),) = parts_of(answer.body, "functionResponse")
    assert "src/greet.js" in json.dumps(result)


def test_an_mcp_server_by_url_is_reached_through_the_proxy(
        srv: LoopbackServer, sandbox: DockerSandbox,
        attempts: dict[str, tuple[Attempt, ...]]) -> None:
    from harness.config.schema import McpServerConfig  # noqa: PLC0415
    from tests.vendors.mcp_http_server import McpHttpHandler  # noqa: PLC0415

    with LoopbackServer(McpHttpHandler) as mcp:
        docs = McpServerConfig(name="docs", url=f"{mcp.url}/mcp")
        srv.queue(Reply("function_call", {"calls": [{"name": "mcp_docs_lookup_symbol",
                                                     "args": {"name": "greet"}}]}),
                  Reply("text", {"text": "greet lives in src/greet.js"}))
        got = call(attempts["coder"][0], sandbox, mcp_servers=(docs,))
        assert got.text == "greet lives in src/greet.js"
        assert "tools/call" in {r.body.get("method") for r in mcp.posts()
                                if isinstance(r.body, dict)}
    ((_, result),) = parts_of(posts(srv)[1].body, "functionResponse")
    assert "src/greet.js" in json.dumps(result)


# -- read-only stages --------------------------------------------------------------------------


@pytest.mark.parametrize(("read_only", "offered"), [(False, True), (True, False)])
def test_a_read_only_stage_gets_no_file_writing_tools(
        srv: LoopbackServer, sandbox: DockerSandbox, attempts: dict[str, tuple[Attempt, ...]],
        read_only: bool, offered: bool) -> None:
    srv.queue(Reply("text", {"text": "done"}))
    call(attempts["coder"][0], sandbox, read_only=read_only)
    tools = posts(srv)[0].body.get("tools", [])
    names = {d["name"] for t in tools for d in t.get("functionDeclarations", [])}
    assert {"read_file", "run_shell_command"} <= names
    assert bool(names & {"write_file", "replace"}) is offered
