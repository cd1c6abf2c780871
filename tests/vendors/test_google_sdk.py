"""The google vendor through the real google-genai SDK against a loopback Gemini API server.

Requests are asserted on what the SDK actually put on the wire; faults on the error class, the
number of requests made and the time taken against the request's deadline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fakes.gemini_server import (
    GeminiHandler,
    function_declarations,
    generation_config,
    parts_of,
    pick,
    thinking_config,
)
from harness.fakes.loopback import LoopbackServer, Recorded, Reply
from harness.stages import Attempt, load_plan
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
from harness.vendors.types import Message, ModelRequest, ModelResponse, ToolResult, ToolSpec

# Not shaped like any key the redactor knows: the vendor must scrub it by value.
KEY = "gm-test-secret-0123456789"
STAGES = """\
planner:
  vendor: anthropic
  model: opus
  timeout: 300s
coder:
  vendor: google
  model: gemini-flash            # gemini-3.5-flash: levels minimal..high
  timeout: 120s
  compute: low
  retry_budget: 1
  on_retry:
    compute: increased
  base_url: {url}
reviewer:
  vendor: google
  model: gemini-2.5-flash        # steered by a token budget
  timeout: 120s
  compute: medium
  vendor_options: {{temperature: 0.2}}
  base_url: {url}
"""
TOOL = ToolSpec("read_file", "Read a file in the workspace.",
                {"type": "object", "properties": {"file_path": {"type": "string"}},
                 "required": ["file_path"]})


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    # One server for the module: shutting one down polls for 0.5 s. The SDK is imported here,
    # not by the first call: its first import (2 s and more on a busy machine) would eat into
    # that call's deadline and change what the wire-level checks see.
    import google.genai  # noqa: F401, PLC0415
    with LoopbackServer(GeminiHandler) as running:
        yield running


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


def call(attempt: Attempt, *, seconds: float = 5.0, messages: tuple[Message, ...] | None = None,
         **extra: Any) -> ModelResponse:
    request = ModelRequest(attempt.settings(), "You review code.",
                           messages or (Message("user", "Review a.py"),),
                           time.monotonic() + seconds, **extra)
    return attempt.vendor.complete(request)


def posts(srv: LoopbackServer) -> list[Recorded]:
    return list(srv.posts())


def test_module_import_does_not_import_the_sdk() -> None:
    code = ("import sys, harness.vendors.google_sdk; "
            "assert 'google.genai' not in sys.modules, 'SDK imported at module level'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_thinking_level_rises_on_retry_and_the_wire_carries_model_and_timeout(
        srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]]) -> None:
    first, second = attempts["coder"]
    srv.queue(Reply("text", {"text": "fine", "chunks": 2}), Reply("text", {"text": "ok"}))
    assert call(first).text == "fine"
    assert call(second).text == "ok"
    one, two = posts(srv)
    assert one.path == "/v1/models/gemini-3.5-flash:streamGenerateContent?alt=sse"
    assert one.headers["x-goog-api-key"] == KEY
    # HttpOptions.timeout (ms left) becomes X-Server-Timeout, rounded up to whole seconds.
    assert one.headers["x-server-timeout"] == "5"
    assert thinking_config(one.body) == {"thinking_level": "LOW"}
    assert thinking_config(two.body) == {"thinking_level": "MEDIUM"}  # compute: increased
    assert pick(generation_config(one.body), "maxOutputTokens") == 65536
    assert pick(one.body, "systemInstruction")["parts"] == [{"text": "You review code."}]


def test_thinking_budget_and_sampling_for_gemini_2_5(
        srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("text", {"text": "ok"}))
    call(attempts["reviewer"][0], seconds=3.0)
    (sent,) = posts(srv)
    assert "/models/gemini-2.5-flash:" in sent.path
    assert sent.headers["x-server-timeout"] == "3"
    assert thinking_config(sent.body) == {"thinking_budget": 8192}  # medium tier
    assert generation_config(sent.body)["temperature"] == 0.2


def test_function_calls_and_their_results_round_trip(
        srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]]) -> None:
    coder = attempts["coder"][0]
    srv.queue(Reply("function_call", {
        "calls": [{"name": "read_file", "args": {"file_path": "a.py"}, "id": "call-7"},
                  {"name": "read_file", "args": {"file_path": "b.py"}}],  # no id from the API
        "thought_signature": "c2lnLTE="}),
        Reply("text", {"text": "done"}))
    first = call(coder, tools=(TOOL,))
    assert first.stop_reason == "tool_use"
    given, made = first.tool_calls
    assert (given.id, given.name, dict(given.arguments)) == ("call-7", "read_file",
                                                             {"file_path": "a.py"})
    assert given.vendor_state == "c2lnLTE="  # the thought signature rides in the transcript
    assert made.id.startswith("hx-")
    assert made.arguments == {"file_path": "b.py"}
    history = (Message("user", "Review a.py"), Message("assistant", tool_calls=first.tool_calls),
               Message("user", tool_results=(ToolResult("call-7", "print(1)"),
                                             ToolResult(made.id, "no such file", True))))
    assert call(coder, messages=history, tools=(TOOL,)).text == "done"
    ask, answer = posts(srv)
    (decl,) = function_declarations(ask.body)
    assert decl["name"] == "read_file"
    assert decl["description"] == TOOL.description
    assert pick(decl, "parametersJsonSchema") == TOOL.input_schema
    calls = list(pick(answer.body, "contents")[1]["parts"])
    assert calls[0] == {"functionCall": {"id": "call-7", "args": {"file_path": "a.py"},
                                         "name": "read_file"}, "thoughtSignature": "c2lnLTE="}
    assert calls[1] == {"functionCall": {"args": {"file_path": "b.py"}, "name": "read_file"}}
    assert parts_of(answer.body, "functionResponse") == [
        ("user", {"id": "call-7", "name": "read_file", "response": {"output": "print(1)"}}),
        ("user", {"name": "read_file", "response": {"error": "no such file"}})]


def test_output_schema_asks_for_json(srv: LoopbackServer,
                                     attempts: dict[str, tuple[Attempt, ...]]) -> None:
    schema = {"type": "object", "properties": {"verdict": {"type": "string"}}}
    srv.queue(Reply("text", {"text": '{"verdict": "ok"}'}))
    call(attempts["coder"][0], output_schema=schema)
    config = generation_config(posts(srv)[0].body)
    assert pick(config, "responseMimeType") == "application/json"
    assert pick(config, "responseJsonSchema") == schema


def test_usage_and_cost_from_the_catalog(srv: LoopbackServer,
                                         attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("text", {"text": "answer", "thought": "hmm", "response_id": "r-42",
                             "usage": {"promptTokenCount": 120_000,
                                       "cachedContentTokenCount": 20_000,
                                       "candidatesTokenCount": 30_000,
                                       "thoughtsTokenCount": 10_000}}))
    got = call(attempts["coder"][0])
    assert got.text == "answer"  # the thought part is not the answer
    assert (got.stop_reason, got.raw_stop_reason, got.request_id) == ("end_turn", "STOP", "r-42")
    u = got.usage
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.thinking_tokens) == (
        100_000, 20_000, 40_000, 10_000)
    # gemini-3.5-flash: input 1.50, output 9.00, cache_read 0.15 per million.
    # 100k x 1.50 + 40k x 9.00 + 20k x 0.15 = 0.15 + 0.36 + 0.003 = $0.513
    assert round(got.cost_usd, 2) == 0.51
    assert got.cost_usd == pytest.approx(0.513)
    assert got.model_id == "gemini-3.5-flash"
    assert 0 < got.latency_s < 5


def test_max_tokens_finish(srv: LoopbackServer,
                           attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("text", {"text": "cut", "finish_reason": "MAX_TOKENS"}))
    got = call(attempts["coder"][0])
    assert (got.text, got.stop_reason) == ("cut", "max_tokens")


def test_hang_times_out_at_the_deadline(srv: LoopbackServer,
                                        attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("hang"))
    start = time.monotonic()
    with pytest.raises(VendorTimeoutError):
        call(attempts["coder"][0], seconds=2.0)
    assert 1.9 <= time.monotonic() - start < 3.0
    assert len(posts(srv)) == 1


def test_trickling_stream_is_cut_at_the_deadline(
        srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """An event every 0.3 s resets httpx's per-read timeout forever; the call still ends."""
    srv.queue(Reply("hang", {"trickle": 0.3}))
    start = time.monotonic()
    with pytest.raises(VendorTimeoutError):
        call(attempts["coder"][0], seconds=1.0)
    assert 0.9 <= time.monotonic() - start < 1.5


@pytest.mark.parametrize("limit", [{"retry_delay": "0.1s"}, {"retry_after": "0"}])
def test_rate_limit_then_success(srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]],
                                 limit: dict[str, str]) -> None:
    srv.queue(Reply("status", {"code": 429, **limit}), Reply("text", {"text": "ok"}))
    start = time.monotonic()
    assert call(attempts["coder"][0]).text == "ok"
    assert len(posts(srv)) == 2
    assert time.monotonic() - start < 0.5  # the server's hint, not the 0.5 s default backoff


def test_rate_limit_hint_beyond_the_deadline_stops_at_once(
        srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("status", {"code": 429, "retry_delay": "30s"}))
    with pytest.raises(RateLimitedError):
        call(attempts["coder"][0], seconds=2.0)
    assert len(posts(srv)) == 1


@pytest.mark.parametrize("refusal", [
    {"code": 401},
    {"code": 403},
    {"code": 400, "message": "API key not valid. Please pass a valid API key.",
     "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                  "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]},
])
def test_refused_key_is_never_retried(srv: LoopbackServer,
                                      attempts: dict[str, tuple[Attempt, ...]],
                                      refusal: dict[str, Any]) -> None:
    message = refusal.get("message", f"key {KEY} refused")  # a server that echoes the key
    srv.queue(Reply("status", {**refusal, "message": message}))
    with pytest.raises(VendorAuthError) as info:
        call(attempts["coder"][0])
    assert len(posts(srv)) == 1
    assert "GEMINI_API_KEY" in str(info.value)
    assert KEY not in str(info.value)


def test_missing_key_fails_before_any_request(srv: LoopbackServer,
                                              attempts: dict[str, tuple[Attempt, ...]],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(VendorAuthError, match="GEMINI_API_KEY"):
        call(attempts["coder"][0])
    assert posts(srv) == []


def test_server_errors_are_retried_until_the_deadline(
        srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]]) -> None:
    start = time.monotonic()  # nothing queued: every request gets a 500
    with pytest.raises(TransientVendorError) as info:
        call(attempts["coder"][0], seconds=2.0)
    assert time.monotonic() - start < 2.0
    assert len(posts(srv)) >= 2
    assert "500" in str(info.value)
    assert KEY not in str(info.value)


def test_garbage_is_malformed(srv: LoopbackServer,
                              attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("garbage"))
    with pytest.raises(MalformedResponseError):
        call(attempts["coder"][0])
    assert len(posts(srv)) == 1


def test_truncated_stream_is_transient(srv: LoopbackServer,
                                       attempts: dict[str, tuple[Attempt, ...]]) -> None:
    """A body cut mid-stream is a dropped connection, not an answer: TransientVendorError,
    retried inside the deadline (the partial text is discarded)."""
    srv.queue(Reply("truncated_stream"), Reply("text", {"text": "whole"}))
    assert call(attempts["coder"][0]).text == "whole"
    srv.queue(*[Reply("truncated_stream")] * 3)
    with pytest.raises(TransientVendorError, match="connection"):
        call(attempts["coder"][0], seconds=1.2)


def test_safety_stop_is_a_refusal(srv: LoopbackServer,
                                  attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("safety"))
    with pytest.raises(RefusalError, match="SAFETY"):
        call(attempts["coder"][0])


def test_token_limit_is_context_too_long(srv: LoopbackServer,
                                         attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("status", {"code": 400, "message": "The input token count (2000000) "
                               "exceeds the maximum number of tokens allowed (1048576)."}))
    with pytest.raises(ContextTooLongError):
        call(attempts["coder"][0])


def test_other_client_errors_are_plain_vendor_errors(
        srv: LoopbackServer, attempts: dict[str, tuple[Attempt, ...]]) -> None:
    srv.queue(Reply("status", {"code": 404, "message": "models/x is not found"}))
    with pytest.raises(VendorError) as info:
        call(attempts["coder"][0])
    assert type(info.value) is VendorError
    assert len(posts(srv)) == 1


def test_server_reads_camel_case_and_key_in_query(srv: LoopbackServer) -> None:
    """What the gemini CLI sends: camelCase sub-objects, ``?key=``, non-streaming."""
    srv.queue(Reply("text", {"text": "hi"}))
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}],
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 128}}}
    req = urllib.request.Request(
        f"{srv.url}/v1beta/models/gemini-2.5-pro:generateContent?key=k",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        answer = json.load(resp)
    assert answer["candidates"][0]["content"]["parts"] == [{"text": "hi"}]
    assert pick(thinking_config(posts(srv)[0].body), "thinkingBudget") == 128
