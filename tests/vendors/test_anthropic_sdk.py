"""The Anthropic vendor driven through the real SDK against the loopback Messages API: what the
SDK puts on the wire for each attempt, what comes back, and how every fault is reported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, conversation, status, text
from harness.fakes.loopback import LoopbackServer, Recorded, Reply
from harness.stages import Attempt, RunPlan, load_plan
from harness.vendors.errors import (
    ContextTooLongError,
    MalformedResponseError,
    RateLimitedError,
    RefusalError,
    TransientVendorError,
    VendorAuthError,
    VendorError,
    VendorTimeoutError,
)
from harness.vendors.types import Message, ModelRequest, Queueing, ToolCall, ToolResult, ToolSpec

KEY = "sk-ant-api03-" + "k3y" * 12
READ = ToolSpec("read_file", "Read a file", {"type": "object",
                                             "properties": {"path": {"type": "string"}}})
GREP = ToolSpec("grep", "Search files", {"type": "object",
                                          "properties": {"pattern": {"type": "string"}}})
# A stream that ends cleanly (complete HTTP body) but before message_stop.
CLEAN_EOF = "event: message_start\ndata: " + json.dumps({"type": "message_start", "message": {
    "id": "msg_x", "type": "message", "role": "assistant", "model": "m", "content": [],
    "stop_reason": None, "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1}}}) + "\n\n"
STAGES = """\
planner:
  vendor: anthropic
  model: sonnet-4-5
  timeout: 60s
  compute: high
  base_url: {url}
coder:
  vendor: anthropic
  model: opus
  timeout: 120s
  retry_budget: 1
  on_retry:
    compute: increased
  base_url: {url}
reviewer:
  vendor: anthropic
  model: haiku
  timeout: 60s
  base_url: {url}
  vendor_options: {{prompt_caching: false, temperature: 0.2}}
"""


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LoopbackServer]:
    # One server for the module: each shutdown waits out serve_forever's 0.5 s poll.
    import anthropic  # noqa: F401, PLC0415 - its ~1.5 s first import would eat a short deadline

    with LoopbackServer(AnthropicHandler) as srv:
        yield srv


@pytest.fixture
def server(shared_server: LoopbackServer,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    shared_server.reset()
    yield shared_server
    shared_server.replies.clear()


@pytest.fixture
def plan(server: LoopbackServer, tmp_path: Path) -> RunPlan:
    path = tmp_path / "stages.yaml"
    path.write_text(textwrap.dedent(STAGES.format(url=server.url)), encoding="utf-8")
    return load_plan(path)


def ask(attempt: Attempt, *, seconds: float = 10.0, system: str = "You are a coder.",
        messages: tuple[Message, ...] = (Message("user", "hi"),), **extra: Any) -> Any:
    request = ModelRequest(attempt.settings(), system, messages, time.monotonic() + seconds,
                           **extra)
    return attempt.vendor.complete(request)


def bodies(server: LoopbackServer) -> list[dict[str, Any]]:
    return [r.body for r in server.posts()]


def coder(plan: RunPlan, number: int = 1) -> Attempt:
    return plan.stages["coder"].attempts[number - 1]


# ---- what the SDK sends ------------------------------------------------------------------


def test_effort_rises_on_an_increased_retry(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(text("one"), text("two"))
    assert ask(coder(plan, 1)).text == "one"
    assert ask(coder(plan, 2)).text == "two"
    first, second = bodies(server)
    assert first["model"] == second["model"] == "claude-opus-5-5"
    assert first["output_config"] == {"effort": "medium"}  # compute defaults to medium
    assert second["output_config"] == {"effort": "high"}  # increased: one tier up
    assert first["stream"] is True  # always streamed, whatever max_tokens is
    assert first["max_tokens"] == 128000
    assert "thinking" not in first
    rec: Recorded = next(server.posts())
    # SDK 2.x sends the API key as a bearer token (1.x used x-api-key; the server takes both).
    assert rec.path == "/v1/messages"
    assert rec.headers["authorization"] == f"Bearer {KEY}"
    assert rec.headers["x-stainless-retry-count"] == "0"


@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated")
def test_budget_model_gets_a_thinking_budget(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(Reply("thinking", {"thinking": "let me see", "text": "42", "usage": {
        "input_tokens": 100, "output_tokens": 900, "thinking_tokens": 700}}))
    answer = ask(plan.stages["planner"].attempts[0])
    (body,) = bodies(server)
    assert body["model"] == "claude-sonnet-4-5"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 16384}  # tier high
    assert "output_config" not in body
    assert (answer.text, answer.usage.thinking_tokens, answer.usage.output_tokens) == (
        "42", 700, 900)


@pytest.mark.filterwarnings("ignore:The model 'claude-sonnet-4-5' is deprecated")
def test_signed_thinking_goes_back_before_the_tool_result(server: LoopbackServer,
                                                          plan: RunPlan) -> None:
    server.queue(Reply("thinking", {"thinking": "grep first", "tool": "grep",
                                    "input": {"pattern": "x"}}), text())
    first = ask(plan.stages["planner"].attempts[0], tools=(READ, GREP))
    assert first.vendor_state == ({"type": "thinking", "thinking": "grep first",
                                   "signature": "sig-test"},)
    history = (Message("user", "go"), first.as_message(),
               Message("user", tool_results=(ToolResult(first.tool_calls[0].id, "no match"),)))
    ask(plan.stages["planner"].attempts[0], messages=history, tools=(READ, GREP))
    turn = bodies(server)[1]["messages"][1]
    assert [b["type"] for b in turn["content"]] == ["thinking", "tool_use"]
    assert turn["content"][0]["signature"] == "sig-test"


def test_prompt_caching_off_and_sampling(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(text())
    ask(plan.stages["reviewer"].attempts[0], tools=(READ,))
    (body,) = bodies(server)
    assert "cache_control" not in json.dumps(body)
    assert body["temperature"] == 0.2  # sent through extra_body: the SDK has no such argument
    assert body["model"] == "claude-haiku-5-5"


def test_tool_use_round_trip(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(*conversation(("read_file", {"path": "a.py"}), "done"))
    first = ask(coder(plan), tools=(READ,))
    assert first.stop_reason == "tool_use"
    assert first.tool_calls == (ToolCall("toolu_01", "read_file", {"path": "a.py"}),)
    history = (Message("user", "fix a.py"),
               Message("assistant", "reading", tool_calls=first.tool_calls),
               Message("user", tool_results=(ToolResult("toolu_01", "no such file", True),)))
    final = ask(coder(plan), tools=(READ,), messages=history)
    assert (final.text, final.stop_reason, final.tool_calls) == ("done", "end_turn", ())
    sent = bodies(server)[1]["messages"]
    assert sent[1] == {"role": "assistant", "content": [
        {"type": "text", "text": "reading"},
        {"type": "tool_use", "id": "toolu_01", "name": "read_file", "input": {"path": "a.py"}}]}
    assert sent[2] == {"role": "user", "content": [  # the end of the request: a breakpoint
        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "no such file",
         "is_error": True, "cache_control": {"type": "ephemeral"}}]}


def test_output_schema_is_a_forced_respond_tool(server: LoopbackServer, plan: RunPlan) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    server.queue(Reply("tool_use", {"name": "respond", "input": {"answer": 42}}))
    answer = ask(coder(plan), output_schema=schema)
    (body,) = bodies(server)
    assert body["tool_choice"] == {"type": "tool", "name": "respond"}
    assert body["tools"][-1]["input_schema"] == schema
    assert (json.loads(answer.text), answer.stop_reason, answer.tool_calls) == (
        {"answer": 42}, "end_turn", ())


# ---- what comes back ---------------------------------------------------------------------


def test_usage_and_cost_to_the_cent(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(text("ok", input_tokens=1000, output_tokens=2000,
                      cache_read_input_tokens=30000, cache_creation_input_tokens=4000))
    answer = ask(coder(plan))
    assert (answer.usage.input_tokens, answer.usage.output_tokens, answer.usage.cache_read_tokens,
            answer.usage.cache_write_tokens) == (1000, 2000, 30000, 4000)
    # claude-opus-5-5 per million: input 4, output 20, cache_write 5, cache_read 0.2
    # 1000*4 + 2000*20 + 4000*5 + 30000*0.2 = 4000 + 40000 + 20000 + 6000 = 70000 -> $0.07
    assert round(answer.cost_usd, 2) == 0.07
    assert answer.cost_usd == pytest.approx(0.07)
    assert (answer.request_id, answer.model_id) == ("req_test", "claude-opus-5-5")
    assert 0 < answer.latency_s < 5


@pytest.mark.parametrize(("raw", "expected"), [
    ("end_turn", "end_turn"), ("stop_sequence", "end_turn"), ("max_tokens", "max_tokens")])
def test_stop_reasons(server: LoopbackServer, plan: RunPlan, raw: str, expected: str) -> None:
    server.queue(Reply("text", {"text": "x", "stop_reason": raw}))
    answer = ask(coder(plan))
    assert (answer.stop_reason, answer.raw_stop_reason) == (expected, raw)


def test_refusal(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(Reply("refusal", {"text": "I can't help with that."}))
    with pytest.raises(RefusalError, match="can't help"):
        ask(coder(plan))


# ---- faults --------------------------------------------------------------------------------


@pytest.mark.parametrize("reply", [
    Reply("hang"),  # accepts, never sends headers: the SDK's read timeout is the time left
    Reply("hang", {"after_events": 2, "ping_every": 0.2}),  # pings reset that read timeout
], ids=["silent", "pinging"])
def test_hang_ends_at_the_deadline(server: LoopbackServer, plan: RunPlan, reply: Reply) -> None:
    server.queue(reply)
    seconds = 2.0 if reply.data == {} else 1.0  # the brief's 2 s; the ping case is the same path
    start = time.monotonic()
    with pytest.raises(VendorTimeoutError):
        ask(coder(plan), seconds=seconds)
    assert seconds - 0.1 < time.monotonic() - start < seconds + 1.0
    assert len(bodies(server)) == 1


def test_rate_limit_then_success(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(status(429, retry_after=0.3), text("fine"))
    start = time.monotonic()
    assert ask(coder(plan)).text == "fine"
    assert time.monotonic() - start >= 0.3  # retry-after honoured
    assert len(bodies(server)) == 2


def test_rate_limit_longer_than_the_deadline(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(status(429, retry_after=30))
    with pytest.raises(RateLimitedError):
        ask(coder(plan), seconds=3.0)
    assert len(bodies(server)) == 1


def test_auth_refused_is_not_retried(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(status(401, "invalid x-api-key"), text())
    with pytest.raises(VendorAuthError, match="ANTHROPIC_API_KEY"):
        ask(coder(plan))
    assert len(bodies(server)) == 1


def test_server_errors_until_the_deadline(server: LoopbackServer, plan: RunPlan) -> None:
    start = time.monotonic()  # nothing queued: every request gets the unscripted 500
    with pytest.raises(TransientVendorError, match="no reply scripted"):
        ask(coder(plan), seconds=1.5)
    assert time.monotonic() - start < 1.5
    assert len(bodies(server)) >= 2


@pytest.mark.parametrize("fault", [
    status(529, error_type="overloaded_error", retry_after=0),
    Reply("stream_error", {"error_type": "overloaded_error", "after_events": 3}),
    Reply("truncated_stream", {"after_events": 3}),
    Reply("garbage", {"content_type": "text/event-stream", "body": CLEAN_EOF}),
], ids=["529", "error-event", "truncated", "clean-eof"])
def test_transient_faults_are_retried(server: LoopbackServer, plan: RunPlan,
                                      fault: Reply) -> None:
    server.queue(fault, text("second time lucky"))
    assert ask(coder(plan)).text == "second time lucky"
    assert len(bodies(server)) == 2


def test_bounded_in_call_retries_make_one_failure(server: LoopbackServer,
                                                  plan: RunPlan) -> None:
    # A stage with a fallback bounds its primary's in-call retries: the call and its retries
    # are one failure, long before the deadline.
    server.queue(*[status(529, error_type="overloaded_error", retry_after=0)] * 5)
    start = time.monotonic()
    with pytest.raises(TransientVendorError, match="529"):
        ask(coder(plan), seconds=30, retries=2)
    assert len(bodies(server)) == 3
    assert time.monotonic() - start < 5


def test_truncated_stream_is_transient(server: LoopbackServer, plan: RunPlan) -> None:
    # A stream cut before message_stop is a dropped connection (proxy, network), not a wrong
    # format: the same request normally succeeds again, so it is TransientVendorError.
    server.queue(*[Reply("truncated_stream", {"after_events": 4})] * 5)
    with pytest.raises(TransientVendorError):
        ask(coder(plan), seconds=1.2)


@pytest.mark.parametrize("reply", [
    Reply("garbage"),
    Reply("garbage", {"content_type": "text/event-stream",
                      "body": "event: message_start\ndata: {not json\n\n"}),
    Reply("garbage", {"content_type": "text/event-stream",
                      "body": "event: content_block_delta\ndata: {\"type\": \"nope\"}\n\n"}),
], ids=["html", "bad-json", "bad-order"])
def test_garbage_is_malformed(server: LoopbackServer, plan: RunPlan, reply: Reply) -> None:
    server.queue(reply)
    with pytest.raises(MalformedResponseError):
        ask(coder(plan))


def test_prompt_too_long(server: LoopbackServer, plan: RunPlan) -> None:
    server.queue(status(400, "prompt is too long: 1200000 tokens > 1000000 maximum"))
    with pytest.raises(ContextTooLongError):
        ask(coder(plan))


def test_missing_key_sends_nothing(server: LoopbackServer, plan: RunPlan,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(VendorAuthError, match="ANTHROPIC_API_KEY"):
        ask(coder(plan))
    assert server.requests == []


def test_key_never_appears_in_errors(server: LoopbackServer, plan: RunPlan) -> None:
    echoes = [status(401, f"bad key {KEY}"), status(400, f"what is {KEY}?"),
              Reply("garbage", {"body": f"<html>{KEY}</html>"}),
              Reply("stream_error", {"error_type": "invalid_request_error", "message": KEY})]
    for reply in echoes:
        server.queue(reply)
        with pytest.raises(VendorError) as info:
            ask(coder(plan))
        assert KEY not in str(info.value), reply.kind
        assert "[redacted]" in str(info.value)


def test_base_url_from_the_environment(server: LoopbackServer, plan: RunPlan,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    attempt = coder(plan)
    attempt = Attempt(**{**attempt.__dict__, "base_url": None})
    server.queue(text("via env"))
    assert ask(attempt).text == "via env"


# ---- the module and the server themselves --------------------------------------------------


def test_import_does_not_load_the_sdk() -> None:
    code = ("import sys, harness.vendors.anthropic_sdk, harness.vendors; "
            "harness.vendors.get_vendor('anthropic'); assert 'anthropic' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_sdk_names_the_install(server: LoopbackServer, plan: RunPlan,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # makes `import anthropic` fail
    with pytest.raises(VendorError, match="pip install"):
        ask(coder(plan))
    assert server.requests == []


def test_server_accepts_bearer_and_answers_hello(server: LoopbackServer) -> None:
    import anthropic  # noqa: PLC0415 - the SDK itself, as a client of the test server

    client = anthropic.Anthropic(auth_token="tok", base_url=server.url, max_retries=0)
    server.queue(text("json body"))
    message = client.messages.create(model="m", max_tokens=10,
                                     messages=[{"role": "user", "content": "hi"}])
    block = message.content[0]
    assert block.type == "text"
    assert block.text == "json body"
    assert next(server.posts()).headers["authorization"] == "Bearer tok"
    server.queue(text("by x-api-key"))
    raw = urllib.request.Request(
        server.url + "/v1/messages?beta=true", method="POST",
        data=json.dumps({"model": "m", "max_tokens": 5, "messages": []}).encode(),
        headers={"x-api-key": "k", "content-type": "application/json"})
    with urllib.request.urlopen(raw, timeout=5) as resp:
        assert json.load(resp)["content"] == [{"type": "text", "text": "by x-api-key"}]
    hello = urllib.request.Request(server.url + "/api/hello", method="HEAD")
    with urllib.request.urlopen(hello, timeout=5) as resp:
        assert resp.status == 200


def test_a_rate_limit_wait_is_queueing_not_the_attempts_time(plan: RunPlan,
                                                              server: LoopbackServer) -> None:
    """The real client against a 429 with retry-after 2 s, on a call with 1.5 s left: the wait
    for capacity moves the deadline (an attempt's queueing clock), so the retry is answered;
    without the clock the wait does not fit and the call fails."""
    server.queue(status(429, retry_after=2), Reply("text", {"text": "ok"}))
    queue = Queueing(budget=30)
    got = ask(plan.stages["coder"].attempts[0], seconds=1.5, queueing=queue)
    assert got.text == "ok"
    assert queue.spent == pytest.approx(2)
    server.queue(status(429, retry_after=2), Reply("text", {"text": "ok"}))
    with pytest.raises(RateLimitedError):
        ask(plan.stages["coder"].attempts[0], seconds=1.5)
