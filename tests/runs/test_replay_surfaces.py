"""Every vendor surface replays: one run recorded per surface — the Anthropic and Google SDKs
and the claude and gemini CLIs against the loopback servers, and the scripted vendor — then
``harness reproduce --replay`` offline (servers gone, no key): the same stages, attempts,
tiers, native controls, outcomes and tokens, and a byte-identical final diff."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.fakes.anthropic_server import AnthropicHandler, text, tool_use
from harness.fakes.gemini_server import GeminiHandler
from harness.fakes.loopback import LoopbackServer, Reply, ScriptedHandler
from harness.vendors.errors import TransientVendorError
from harness.vendors.scripted import Reply as ScriptedReply
from harness.vendors.types import Usage
from tests.pipeline.conftest import BUGGY, FIXED, MANIFEST, Outcome, sandbox_section
from tests.pipeline.test_scripted_runs import PLAN, Plays, code, stages
from tests.vendors.cli_fixtures import MCP_STDIO_SERVER

pytestmark = pytest.mark.docker  # every test here needs the engine

KEYS = {"ANTHROPIC_API_KEY": "sk-ant-api03-" + "replay0" * 6,
        "GEMINI_API_KEY": "AIza" + "Replay00" * 4}
CLI_SANDBOX = """\
sandbox:
  image: harness-sandbox:clis
  install_clis: true
  network: cli-only
  test_command: node --test test/*.test.js
"""
REVIEW = {"verdict": "approve", "findings": []}


def sdk_stages(vendor: str, models: tuple[str, str], url: str) -> str:
    planner, coder = models
    return (f'planner: {{vendor: {vendor}, model: {planner}, timeout: 60s, base_url: "{url}"}}\n'
            f"coder: {{vendor: {vendor}, model: {coder}, timeout: 60s, retry_budget: 1, "
            f'on_retry: {{compute: increased}}, base_url: "{url}"}}\n'
            f'reviewer: {{vendor: {vendor}, model: {coder}, timeout: 60s, base_url: "{url}"}}\n'
            + sandbox_section())


def cli_stages(vendor: str, model: str, url: str) -> str:
    return (f'planner: {{vendor: {vendor}, model: {model}, timeout: 120s, base_url: "{url}"}}\n'
            f"coder: {{vendor: {vendor}, model: {model}, timeout: 120s, retry_budget: 1, "
            f'on_retry: {{compute: increased}}, base_url: "{url}"}}\n' + CLI_SANDBOX)


def anthropic_sdk() -> list[Reply]:
    def coder(source: str, n: int) -> list[Reply]:
        return [tool_use("write_file", {"path": "src/slug.js", "content": source},
                         call_id=f"toolu_w{n}"),
                tool_use("finish", {"summary": "done"}, call_id=f"toolu_f{n}")]
    return [tool_use("submit_manifest", MANIFEST), *coder(BUGGY, 1), *coder(FIXED, 2),
            tool_use("submit_review", REVIEW, call_id="toolu_r")]


def google_sdk() -> list[Reply]:
    def call(name: str, args: dict[str, Any]) -> Reply:
        return Reply("function_call", {"calls": [{"name": name, "args": args}]})
    return [call("submit_manifest", MANIFEST),
            call("write_file", {"path": "src/slug.js", "content": BUGGY}),
            call("finish", {"summary": "done"}),
            call("write_file", {"path": "src/slug.js", "content": FIXED}),
            call("finish", {"summary": "done"}), call("submit_review", REVIEW)]


def claude_cli() -> list[Reply]:
    def coder(source: str, n: int) -> list[Reply]:
        return [tool_use("Write", {"file_path": "/workspace/src/slug.js", "content": source},
                         call_id=f"toolu_w{n}"), text("slugify changed")]
    return [tool_use("StructuredOutput", MANIFEST), *coder(BUGGY, 1), *coder(FIXED, 2)]


def gemini_cli() -> list[Reply]:
    def coder(source: str) -> list[Reply]:
        return [Reply("function_call", {"calls": [{"name": "write_file", "args": {
                    "file_path": "src/slug.js", "content": source}}]}),
                Reply("text", {"text": "slugify changed"})]
    return [Reply("text", {"text": json.dumps(MANIFEST)}), *coder(BUGGY), *coder(FIXED)]


@dataclass(frozen=True)
class Surface:
    handler: type[ScriptedHandler]
    replies: Callable[[], list[Reply]]
    stages: Callable[[str], str]
    outcomes: tuple[str, ...]


SDK_OUTCOMES = ("accepted", "tests_failed", "passed", "approved")
CLI_OUTCOMES = ("accepted", "tests_failed", "passed")
SURFACES = {
    "anthropic": Surface(AnthropicHandler, anthropic_sdk,
                         lambda url: sdk_stages("anthropic", ("opus", "sonnet"), url),
                         SDK_OUTCOMES),
    "google": Surface(GeminiHandler, google_sdk,
                      lambda url: sdk_stages("google", ("gemini-pro", "gemini-flash"), url),
                      SDK_OUTCOMES),
    "claude-cli": Surface(AnthropicHandler, claude_cli,
                          lambda url: cli_stages("claude-cli", "sonnet", url), CLI_OUTCOMES),
    "gemini-cli": Surface(GeminiHandler, gemini_cli,
                          lambda url: cli_stages("gemini-cli", "gemini-pro", url), CLI_OUTCOMES),
}


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    for name in ("ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def ladder(state: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(a["label"], a["stage"], a["tier"], a["vendor"], a["model"], a["control"],
             a["outcome"], a["tokens"], a["usage"]) for a in state["attempts"]]


def replay(out: Outcome, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``harness reproduce --replay`` with no key in the environment; the replay's run.json."""
    for name in KEYS:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["reproduce", str(out.result.run_dir), "--replay"])
    assert result.exit_code == 0, result.output
    assert "final diff identical" in result.output
    (replayed,) = [p for p in (out.result.run_dir / "replays").iterdir()
                   if not p.name.startswith(".")]  # .baseline: the suite at the base
    assert (replayed / "final.diff").read_bytes() == out.result.patch.read_bytes()
    state: dict[str, Any] = json.loads((replayed / "run.json").read_text())
    return state


@pytest.mark.parametrize("name", list(SURFACES))
def test_a_run_on_each_surface_replays_offline(
        name: str, run: Callable[..., Outcome], keys: pytest.MonkeyPatch) -> None:
    surface = SURFACES[name]
    with LoopbackServer(surface.handler) as server:
        server.queue(*surface.replies())
        out = run(surface.stages(server.url))
    assert out.result.status == "resolved", out.result.detail
    assert tuple(out.outcomes()) == surface.outcomes
    again = replay(out, keys)
    assert again["status"] == "resolved"
    recorded = ladder(out.state)
    assert [a[:3] + a[4:] for a in ladder(again)] == [a[:3] + a[4:] for a in recorded]
    assert {a[3] for a in ladder(again)} <= {"replay", "replay-cli"}


def test_a_scripted_run_replays_offline(run: Callable[..., Outcome],
                                        keys: pytest.MonkeyPatch) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY), code(FIXED))}))
    assert out.outcomes() == ["accepted", "tests_failed", "passed"]
    again = replay(out, keys)
    assert [a[:3] + a[4:] for a in ladder(again)] == [a[:3] + a[4:] for a in ladder(out.state)]


def test_a_replay_that_diverges_says_so_in_one_line(run: Callable[..., Outcome],
                                                    keys: pytest.MonkeyPatch) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(FIXED))}))
    state = json.loads((out.result.run_dir / "run.json").read_text())
    state["ticket"]["body"] = "another ticket altogether"
    (out.result.run_dir / "run.json").write_text(json.dumps(state))
    result = CliRunner().invoke(main, ["reproduce", str(out.result.run_dir), "--replay"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    flat = " ".join(result.output.split())
    assert "replay: error (recorded: resolved); final diff none (the replay stopped" in flat
    assert "replay diverged from" in flat
    assert "0001-planner-a1.json:request.messages[0]." in flat.replace(" ", "")


def test_a_failed_calls_spend_replays_too(run: Callable[..., Outcome],
                                          keys: pytest.MonkeyPatch) -> None:
    overloaded = TransientVendorError("scripted", "overloaded after a long answer")
    overloaded.spent, overloaded.cost_usd = Usage(4000, 100), 0.02
    out = run(stages({"planner": Plays(PLAN),
                      "coder": Plays([ScriptedReply(error=overloaded)], code(FIXED))}))
    assert out.outcomes() == ["accepted", "error", "passed"]
    again = replay(out, keys)
    assert again["totals"] == {**out.state["totals"], "duration_s": again["totals"]["duration_s"]}
    assert [a[:3] + a[4:] for a in ladder(again)] == [a[:3] + a[4:] for a in ladder(out.state)]


def test_a_stage_with_mcp_servers_replays_without_them(run: Callable[..., Outcome],
                                                       keys: pytest.MonkeyPatch) -> None:
    keys.setenv("MY_TOKEN", "mcp-token-" + "replay" * 4)
    planner = Plays([ScriptedReply("", [("symbols__lookup_symbol", {"name": "greet"})]),
                     ScriptedReply("", [("symbols__read_env", {"name": "TOKEN"})]), *PLAN[1:]])
    mcp = {"name": "symbols", "command": [sys.executable, str(MCP_STDIO_SERVER)],
           "env": {"TOKEN": "${MY_TOKEN}"}}
    out = run(stages({"planner": planner, "coder": Plays(code(FIXED))},
                     planner={"mcp_servers": [mcp]}))
    assert out.result.status == "resolved", out.result.detail
    keys.delenv("MY_TOKEN")  # the replay starts no server, so it needs no secret
    again = replay(out, keys)
    assert [a[:3] + a[4:] for a in ladder(again)] == [a[:3] + a[4:] for a in ladder(out.state)]
