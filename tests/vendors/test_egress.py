"""The egress meter: each vendor's responses read as they stream through the proxy (split at any
byte), a cut stream counted with an estimate, and a session priced model by model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.stages import load_plan
from harness.vendors.egress import anthropic_tap, gemini_tap, metered
from harness.vendors.types import Exchange, Usage

ANTHROPIC_STREAM = b"".join(
    f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n".encode()
    for kind, body in [
        ("message_start", {"message": {"model": "claude-x", "usage": {
            "input_tokens": 1000, "output_tokens": 1, "cache_read_input_tokens": 20000,
            "cache_creation_input_tokens": 300}}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                      "text": "x" * 400}}),
        ("message_delta", {"usage": {"output_tokens": 120,
                                     "output_tokens_details": {"thinking_tokens": 20}}}),
        ("message_stop", {})])


def fed(tap_chunks: bytes, tap: object, size: int) -> object:
    for start in range(0, len(tap_chunks), size):
        tap.feed(tap_chunks[start:start + size])  # type: ignore[attr-defined]
    return tap


@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
def test_anthropic_stream_split_anywhere(size: int) -> None:
    tap = fed(ANTHROPIC_STREAM, anthropic_tap("/v1/messages", b'{"model": "sonnet-x"}'), size)
    model, usage, estimated = tap.result(complete=True)  # type: ignore[attr-defined]
    assert (model, estimated) == ("sonnet-x", False)  # the model asked for prices the call
    assert usage == Usage(input_tokens=1000, output_tokens=120, cache_read_tokens=20000,
                          cache_write_tokens=300, thinking_tokens=20)


def test_anthropic_stream_cut_before_its_end_is_estimated() -> None:
    cut = ANTHROPIC_STREAM[:ANTHROPIC_STREAM.index(b"event: message_delta")]
    tap = fed(cut, anthropic_tap("/v1/messages", b"{}"), 100)
    model, usage, estimated = tap.result(complete=False)  # type: ignore[attr-defined]
    assert estimated
    assert model == "claude-x"
    assert usage.input_tokens == 1000
    assert usage.output_tokens == 100  # 400 characters seen, about 4 a token



def test_a_call_cut_before_the_vendor_reported_is_counted_by_its_request() -> None:
    request = json.dumps({"model": "sonnet-x", "messages": [{"role": "user",
                                                            "content": "x" * 4000}]}).encode()
    for tap in (anthropic_tap("/v1/messages", request),
                gemini_tap("/v1beta/models/gemini-x:generateContent", request)):
        fed(b'{"id": "msg_1", "ty', tap, 5)  # a non-streamed body, cut
        _, usage, estimated = tap.result(complete=False)  # type: ignore[attr-defined]
        assert estimated
        assert usage.input_tokens == -(-len(request) // 4)
        assert usage.output_tokens == 0
        _, whole, estimated = tap.result(complete=True)  # type: ignore[attr-defined]
        assert not estimated  # a finished answer that reported nothing is not guessed at
        assert whole.input_tokens == 0

def test_anthropic_json_body() -> None:
    body = json.dumps({"type": "message", "model": "claude-x", "usage": {
        "input_tokens": 7, "output_tokens": 3}}).encode()
    tap = fed(body, anthropic_tap("/v1/messages", b"{}"), 5)
    assert tap.result(complete=True)[1] == Usage(input_tokens=7,  # type: ignore[attr-defined]
                                                  output_tokens=3)


def test_gemini_sse_and_json_array() -> None:
    chunks = [{"candidates": [{"content": {"parts": [{"text": "hel"}]}}],
               "usageMetadata": {"promptTokenCount": 900}},
              {"candidates": [{"content": {"parts": [{"text": "lo"}]}}],
               "usageMetadata": {"promptTokenCount": 900, "cachedContentTokenCount": 400,
                                 "candidatesTokenCount": 30, "thoughtsTokenCount": 12,
                                 "toolUsePromptTokenCount": 5}}]
    sse = b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)
    path = "/v1beta/models/gemini-x:streamGenerateContent"
    want = Usage(input_tokens=505, output_tokens=42, cache_read_tokens=400, thinking_tokens=12)
    for body in (sse, json.dumps(chunks).encode()):
        model, usage, estimated = fed(body, gemini_tap(path, b""), 9).result(  # type: ignore[attr-defined]
            complete=True)
        assert (model, usage, estimated) == ("gemini-x", want, False)


def test_a_session_is_priced_model_by_model(tmp_path: Path) -> None:
    config = tmp_path / "stages.yaml"
    config.write_text("planner: {vendor: gemini-cli, model: gemini-pro, timeout: 60s}\n"
                      "coder: {vendor: gemini-cli, model: gemini-pro, timeout: 60s}\n")
    settings = load_plan(config).stages["coder"].attempts[0].settings()
    million = Usage(input_tokens=1_000_000)
    exchanges = [Exchange("POST", "/p", 200, model, million, True)
                 for model in (settings.model_id,  # the stage's own: $2.00 in
                               "gemini-3-flash-preview",  # the catalog's: $0.50 in
                               "gemini-unknown-model")]  # unknown: priced as the stage's
    usage, cost = metered(exchanges, settings)
    assert usage.input_tokens == 3_000_000
    assert cost == pytest.approx(2.0 + 0.5 + 2.0)
