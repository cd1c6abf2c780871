"""Rolling cache breakpoints through the real Anthropic SDK, checked by what the accounting
loopback server bills: every turn of a tool loop reads all earlier turns from the cache and
writes only what is new, a retry reads the stable ticket context, and the limits (four
breakpoints, the 20-block lookback, thinking changes) are respected."""

from __future__ import annotations

import itertools
import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli.render import check_json
from harness.fakes.anthropic_server import AnthropicHandler, prompt_cache, text
from harness.fakes.loopback import LoopbackServer, Reply
from harness.stages import Attempt, RunPlan, load_plan
from harness.vendors.types import Message, ModelRequest, ModelResponse, ToolResult, ToolSpec

KEY = "sk-ant-api03-" + "c4che" * 8
EPH = {"type": "ephemeral"}
SYSTEM = "You are the Coder. " + "Follow the conventions of the code around you. " * 100
CONTEXT = "# Ticket T-9\nslugify must trim dashes.\n\n## Plan\n" + "Change slug.ts. " * 300
READ = ToolSpec("read_file", "Read a file", {"type": "object",
                                             "properties": {"path": {"type": "string"}}})
STAGES = """\
planner: {{vendor: anthropic, model: sonnet-4-5, timeout: 60s, base_url: "{url}"}}
coder:
  vendor: anthropic
  model: opus
  timeout: 60s
  retry_budget: 1
  on_retry: {{compute: increased}}
  base_url: "{url}"
reviewer:
  vendor: anthropic
  model: opus
  timeout: 60s
  base_url: "{url}"
  vendor_options: {{prompt_caching: false}}
"""


@pytest.fixture(scope="module")
def shared() -> Iterator[LoopbackServer]:
    import anthropic  # noqa: F401, PLC0415 - its first import would eat a short deadline

    with LoopbackServer(AnthropicHandler) as srv:
        yield srv


@pytest.fixture
def server(shared: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    shared.reset()
    cache = prompt_cache(shared)
    cache.entries.clear()
    return shared


@pytest.fixture
def plan(server: LoopbackServer, tmp_path: Path) -> RunPlan:
    path = tmp_path / "stages.yaml"
    path.write_text(textwrap.dedent(STAGES.format(url=server.url)), encoding="utf-8")
    return load_plan(path)


def ask(attempt: Attempt, messages: list[Message], system: str = SYSTEM) -> ModelResponse:
    request = ModelRequest(attempt.settings(), system, tuple(messages), time.monotonic() + 20,
                           tools=(READ,))
    return attempt.vendor.complete(request)


def first_turn(task: str = "") -> Message:
    full = CONTEXT + ("\n\n" + task if task else "")
    return Message("user", full, stable_chars=len(CONTEXT))


def source(n: int) -> str:
    return f"// file {n}\n" + "export const value = compute(input, options);\n" * 60


def loop(attempt: Attempt, server: LoopbackServer, turns: int, *, calls: int = 1,
         task: str = "") -> list[ModelResponse]:
    """A tool loop as the agent runs it: each answer asks for ``calls`` files."""
    messages = [first_turn(task)]
    answers = []
    for t in range(turns):
        server.queue(Reply("tool_use", {"name": "read_file", "input": {"path": f"f{t}.ts"},
                                        "id": f"toolu_{t}_0"}) if calls == 1 else
                     _parallel(t, calls))
        answer = ask(attempt, messages)
        answers.append(answer)
        messages.append(answer.as_message())
        messages.append(Message("user", tool_results=tuple(
            ToolResult(c.id, source(t * 100 + i)) for i, c in enumerate(answer.tool_calls))))
    return answers


def _parallel(turn: int, calls: int) -> Reply:
    return Reply("tool_use", {"calls": [
        {"name": "read_file", "input": {"path": f"f{i}.ts"}, "id": f"toolu_{turn}_{i}"}
        for i in range(calls)]})


def prompt(response: ModelResponse) -> int:
    u = response.usage
    return u.input_tokens + u.cache_read_tokens + u.cache_write_tokens


def test_breakpoints_sit_on_the_system_the_context_and_both_ends(
        server: LoopbackServer, plan: RunPlan) -> None:
    loop(plan.stages["coder"].attempts[0], server, 3, task="## Brief\nKeep it small.")
    body = server.requests[-1].body
    marked = [b for m in body["messages"] for b in m["content"] if "cache_control" in b]
    assert "cache_control" not in json.dumps(body["tools"])  # the system's mark covers them
    assert body["system"] == [{"type": "text", "text": SYSTEM, "cache_control": EPH}]
    first = body["messages"][0]["content"]
    assert first[0] == {"type": "text", "text": CONTEXT, "cache_control": EPH}
    assert first[1] == {"type": "text", "text": "\n\n## Brief\nKeep it small."}
    assert marked[1:] == [body["messages"][-3]["content"][-1], body["messages"][-1]["content"][-1]]
    assert len(marked) + 1 == 4


def test_every_turn_reads_all_earlier_turns_and_writes_only_the_new_one(
        server: LoopbackServer, plan: RunPlan) -> None:
    answers = loop(plan.stages["coder"].attempts[0], server, 8)
    first = answers[0].usage
    assert first.cache_read_tokens == 0
    assert first.cache_write_tokens == prompt(answers[0])  # all of it, for the next turn
    for before, now in itertools.pairwise(answers):
        assert now.usage.cache_read_tokens == prompt(before)
        assert now.usage.input_tokens == 0
        assert now.usage.cache_write_tokens == prompt(now) - prompt(before)
    reads = sum(a.usage.cache_read_tokens for a in answers[1:])
    assert reads / sum(prompt(a) for a in answers[1:]) > 0.85


def test_a_turn_with_more_blocks_than_the_lookback_still_hits(
        server: LoopbackServer, plan: RunPlan) -> None:
    # 12 parallel reads: 13 assistant blocks + 12 results = 25 new blocks in one turn.
    answers = loop(plan.stages["coder"].attempts[0], server, 3, calls=12)
    assert answers[1].usage.cache_read_tokens == prompt(answers[0])
    assert answers[2].usage.cache_read_tokens == prompt(answers[1])


def test_a_retry_reads_tools_system_and_ticket_context(server: LoopbackServer,
                                                       plan: RunPlan) -> None:
    coder = plan.stages["coder"]
    loop(coder.attempts[0], server, 2)
    server.queue(text("ok"))
    # The escalated retry: effort high instead of medium, the failing tests after the context.
    retry = ask(coder.attempts[1], [first_turn("## Your previous attempt failed\n1 failing")])
    assert server.requests[-1].body["output_config"] == {"effort": "high"}
    stable = prompt(retry) - retry.usage.cache_write_tokens - retry.usage.input_tokens
    assert retry.usage.cache_read_tokens == stable > 0
    assert retry.usage.cache_write_tokens < 100  # only the failure feedback is new


@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated")
def test_a_changed_thinking_budget_keeps_only_tools_and_system(
        server: LoopbackServer, plan: RunPlan, tmp_path: Path) -> None:
    planner = plan.stages["planner"].attempts[0]  # claude-sonnet-4-5: a thinking budget
    server.queue(text("a"), text("b"))
    ask(planner, [first_turn()])
    other = tmp_path / "other.yaml"
    other.write_text(textwrap.dedent(STAGES.format(url=server.url)).replace(
        "timeout: 60s, base_url", "timeout: 60s, compute: high, base_url", 1))
    higher = load_plan(other).stages["planner"].attempts[0]
    changed = ask(higher, [first_turn()])
    assert server.requests[-1].body["thinking"] != server.requests[-2].body["thinking"]
    assert 0 < changed.usage.cache_read_tokens < prompt(changed) // 2  # system + tools only
    assert changed.usage.cache_write_tokens > 0  # the ticket context is written again


def test_no_cache_when_prompt_caching_is_off(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(text("a"), text("b"))
    reviewer = plan.stages["reviewer"].attempts[0]
    ask(reviewer, [first_turn()])
    again = ask(reviewer, [first_turn()])
    assert (again.usage.cache_read_tokens, again.usage.cache_write_tokens) == (0, 0)
    assert "cache_control" not in json.dumps(server.requests[-1].body)


def test_a_cacheable_system_part_is_its_own_block(server: LoopbackServer,
                                                  plan: RunPlan) -> None:
    server.queue(text())
    request = ModelRequest(plan.stages["coder"].attempts[0].settings(), "STABLE|volatile",
                           (Message("user", "hi"),), time.monotonic() + 10,
                           cacheable_system_chars=len("STABLE"))
    plan.stages["coder"].attempts[0].vendor.complete(request)
    body: dict[str, Any] = server.requests[-1].body
    assert body["system"] == [{"type": "text", "text": "STABLE", "cache_control": EPH},
                              {"type": "text", "text": "|volatile"}]


def test_harness_check_shows_the_layout(plan: RunPlan) -> None:
    shown = {s["stage"]: s["attempts"][0]["prompt_cache"] for s in check_json(plan)["stages"]}
    assert shown["coder"].startswith("breakpoints on tools+system, the ticket context and the "
                                     "last two turns")
    assert "under 1,024 tokens" in shown["coder"]  # claude-opus-5-5's minimum
    assert shown["reviewer"] == "off (vendor_options.prompt_caching: false)"
