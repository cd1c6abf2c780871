"""Gemini's prompt caches through the real google-genai SDK, checked by what the accounting
loopback server bills: implicit hits on the repeated prefix of a tool loop, and an explicit
cachedContents entry created once an attempt runs long enough (or at once, or never, as the
stage asks), reused by its later requests and given up when it expires."""

from __future__ import annotations

import itertools
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli.render import check_json
from harness.fakes.gemini_server import GeminiHandler, prompt_cache
from harness.fakes.loopback import LoopbackServer, Recorded, Reply
from harness.stages import Attempt, RunPlan, load_plan
from harness.vendors import google_cache
from harness.vendors.types import Message, ModelRequest, ModelResponse, ToolResult, ToolSpec

KEY = "AIza" + "C4che" * 7
SYSTEM = "You are the Reviewer. " + "Check the diff against the conventions. " * 150
CONTEXT = "# Ticket T-9\nslugify must trim dashes.\n\n## Plan\n" + "Change slug.ts. " * 1200
TOOL = ToolSpec("read_file", "Read a file", {"type": "object",
                                             "properties": {"path": {"type": "string"}}})
STAGES = """\
planner: {{vendor: google, model: gemini-flash, timeout: 60s, base_url: "{url}",
           vendor_options: {{context_cache: explicit}}}}
coder: {{vendor: google, model: gemini-flash, timeout: 60s, base_url: "{url}"}}
reviewer: {{vendor: google, model: gemini-flash, timeout: 60s, base_url: "{url}",
            vendor_options: {{context_cache: implicit}}}}
"""


@pytest.fixture(scope="module")
def shared() -> Iterator[LoopbackServer]:
    import google.genai  # noqa: F401, PLC0415 - its first import would eat a short deadline

    with LoopbackServer(GeminiHandler) as srv:
        yield srv


@pytest.fixture
def server(shared: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> LoopbackServer:
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    shared.reset()
    cache = prompt_cache(shared)
    cache.implicit.clear()
    cache.explicit.clear()
    return shared


@pytest.fixture
def plan(server: LoopbackServer, tmp_path: Path) -> RunPlan:
    path = tmp_path / "stages.yaml"
    path.write_text(textwrap.dedent(STAGES.format(url=server.url)), encoding="utf-8")
    return load_plan(path)


def loop(attempt: Attempt, server: LoopbackServer, turns: int) -> list[ModelResponse]:
    """A tool loop as the agent runs it, the first turn's context marked stable."""
    task = "\n\n## Diff\n+ trimmed"
    messages = [Message("user", CONTEXT + task, stable_chars=len(CONTEXT))]
    answers = []
    for t in range(turns):
        server.queue(Reply("function_call", {"calls": [
            {"name": "read_file", "args": {"path": f"f{t}.ts"}, "id": f"c{t}"}]}))
        request = ModelRequest(attempt.settings(), SYSTEM, tuple(messages),
                               time.monotonic() + 20, tools=(TOOL,))
        answer = attempt.vendor.complete(request)
        answers.append(answer)
        messages += [answer.as_message(), Message("user", tool_results=(
            ToolResult(answer.tool_calls[0].id, f"// f{t}.ts\n" + "const x = 1;\n" * 80),))]
    return answers


def generated(server: LoopbackServer) -> list[Recorded]:
    return [r for r in server.posts() if "enerateContent" in r.path]


def created(server: LoopbackServer) -> list[int]:
    """Where in the request sequence each cachedContents.create came."""
    return [i for i, r in enumerate(server.posts()) if r.path.endswith("/cachedContents")]


def prompt(response: ModelResponse) -> int:
    return response.usage.input_tokens + response.usage.cache_read_tokens


def test_implicit_hits_read_every_earlier_turn(server: LoopbackServer, plan: RunPlan) -> None:
    answers = loop(plan.stages["reviewer"].attempts[0], server, 4)
    assert created(server) == []
    assert answers[0].usage.cache_read_tokens == 0
    for before, now in itertools.pairwise(answers):
        assert now.usage.cache_read_tokens == prompt(before)
    first = generated(server)[0].body
    parts = [p["text"][:12] for p in first["contents"][0]["parts"]]
    assert parts == ["# Ticket T-9", "\n\n## Diff\n+ "]
    bodies = [r.body for r in generated(server)]
    assert all(b["systemInstruction"] == bodies[0]["systemInstruction"] for b in bodies)
    assert all(b["tools"] == bodies[0]["tools"] for b in bodies)


def test_explicit_cache_from_the_first_request_and_reused(server: LoopbackServer,
                                                          plan: RunPlan) -> None:
    answers = loop(plan.stages["planner"].attempts[0], server, 3)
    assert created(server) == [0]  # made once, before the first generateContent
    made = next(server.posts()).body
    assert made["ttl"].endswith("s")
    assert int(made["ttl"][:-1]) >= 60
    name = answers[0].vendor_state[0][google_cache.STATE_KEY]
    for r in generated(server):
        assert r.body["cachedContent"] == name
        assert "systemInstruction" not in r.body
        assert "tools" not in r.body
        assert r.body["contents"][0]["parts"][0]["text"].startswith("\n\n## Diff")
    cached = prompt_cache(server).explicit[name].resource["usageMetadata"]["totalTokenCount"]
    first = answers[0]
    assert first.usage.cache_write_tokens == cached  # written once, at the input price
    assert first.usage.cache_read_tokens >= cached
    price = plan.stages["planner"].attempts[0].entry.price
    assert first.cost_usd > first.usage.cost(price)  # plus its storage for the attempt
    assert all(a.usage.cache_write_tokens == 0 for a in answers[1:])


def test_auto_creates_the_cache_once_the_attempt_has_run_long_enough(
        server: LoopbackServer, plan: RunPlan) -> None:
    attempt = plan.stages["coder"].attempts[0]
    at = google_cache.create_at(attempt.entry.price, 20)
    assert at is not None
    loop(attempt, server, at + 1)
    assert created(server) == [at - 1]  # right before the at-th generateContent
    assert ["cachedContent" in r.body for r in generated(server)] == [False] * (at - 1) + [
        True, True]


def test_an_expired_cache_is_given_up_for_implicit_caching(server: LoopbackServer,
                                                           plan: RunPlan) -> None:
    attempt = plan.stages["planner"].attempts[0]
    answers = loop(attempt, server, 1)
    prompt_cache(server).clock.advance(3600)  # the server expired it; the vendor cannot know
    messages = (Message("user", CONTEXT + "\n\nnext", stable_chars=len(CONTEXT)),
                answers[0].as_message(),
                Message("user", tool_results=(ToolResult(answers[0].tool_calls[0].id, "ok"),)))
    server.queue(Reply("text", {"text": "done"}))
    again = attempt.vendor.complete(ModelRequest(attempt.settings(), SYSTEM, messages,
                                                 time.monotonic() + 20, tools=(TOOL,)))
    assert again.text == "done"
    retried = generated(server)[-1].body
    assert "cachedContent" not in retried
    assert "systemInstruction" in retried
    # The next turn knows it is gone: no request names it again.
    (gone,) = again.vendor_state
    assert gone[google_cache.STATE_KEY] == answers[0].vendor_state[0][google_cache.STATE_KEY]
    assert gone["expires_at"] == 0.0


def test_harness_check_shows_the_choice(plan: RunPlan) -> None:
    shown = {s["stage"]: s["attempts"][0]["prompt_cache"] for s in check_json(plan)["stages"]}
    assert shown["reviewer"] == "implicit (prefix ≥ 4,096 tokens)"
    assert shown["planner"].startswith("explicit cachedContents from request 1")
    at = google_cache.create_at(plan.stages["coder"].attempts[0].entry.price, 60)
    assert f"explicit cachedContents from request {at} " in shown["coder"]
