"""The loopback servers' prompt-cache accounting against the vendors' documented rules: prefix
identity up to each breakpoint, the minimum cacheable length, the lifetime, the lookback window,
thinking changes, and Gemini's implicit and explicit caches."""

from __future__ import annotations

from typing import Any

import pytest

from harness.fakes.prompt_cache import (
    AnthropicCache,
    CacheRequestError,
    GeminiCache,
    count_tokens,
)

EPH = {"type": "ephemeral"}
MODEL = "claude-sonnet-5-5"  # minimum cacheable prefix: 1024 tokens
BIG = "x" * 8000  # 2003 tokens
SMALL = "y" * 400  # 103 tokens


def text(body: str, mark: bool = False) -> dict[str, Any]:
    return {"type": "text", "text": body, **({"cache_control": EPH} if mark else {})}


def request(*messages: dict[str, Any], system: str = BIG, thinking: int | None = None,
            model: str = MODEL) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "system": [text(system, mark=True)],
                            "messages": list(messages)}
    if thinking:
        body["thinking"] = {"type": "enabled", "budget_tokens": thinking}
    return body


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(body: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [text(body)]}


def test_a_repeated_prefix_is_written_once_then_read() -> None:
    cache = AnthropicCache()
    first = cache.account(request(user(text(SMALL))))
    system = count_tokens(text(BIG))
    assert first["cache_creation_input_tokens"] == system
    assert first["cache_read_input_tokens"] == 0
    assert first["input_tokens"] == count_tokens({"role": "user", **text(SMALL)})
    again = cache.account(request(user(text("another question"))))
    assert again["cache_read_input_tokens"] == system
    assert again["cache_creation_input_tokens"] == 0


def test_a_rolling_breakpoint_reads_the_previous_turn_and_writes_only_the_new_one() -> None:
    cache = AnthropicCache()
    turn1 = [user(text(BIG, mark=True))]
    first = cache.account(request(*turn1))
    turn2 = [user(text(BIG)), assistant("answer"), user(text(SMALL, mark=True))]
    second = cache.account(request(*turn2))
    assert second["cache_read_input_tokens"] == (first["cache_creation_input_tokens"]
                                                 + first["cache_read_input_tokens"])
    new = (count_tokens({"role": "assistant", **text("answer")})
           + count_tokens({"role": "user", **text(SMALL)}))
    assert second["cache_creation_input_tokens"] == new
    assert second["input_tokens"] == 0


def test_the_lookback_window_is_twenty_blocks() -> None:
    cache = AnthropicCache()
    cache.account(request(user(text(BIG, mark=True))))
    # 19 new blocks after the cached one: the breakpoint on the 20th still finds it ...
    near = [text(f"r{i}") for i in range(18)] + [text("end", mark=True)]
    hit = cache.account(request(user(text(BIG), *near)))
    assert hit["cache_read_input_tokens"] > 0
    # ... 21 blocks on, it does not, and the whole prefix is written again.
    cache = AnthropicCache()
    cache.account(request(user(text(BIG, mark=True))))
    far = [text(f"r{i}") for i in range(20)] + [text("end", mark=True)]
    miss = cache.account(request(user(text(BIG), *far)))
    assert miss["cache_read_input_tokens"] == count_tokens(text(BIG))  # the system alone
    # A second breakpoint on the old end bridges the gap.
    cache = AnthropicCache()
    cache.account(request(user(text(BIG, mark=True))))
    bridged = cache.account(request(user(text(BIG, mark=True), *far)))
    assert bridged["cache_read_input_tokens"] == (count_tokens(text(BIG))
                                                  + count_tokens({"role": "user", **text(BIG)}))


def test_a_prefix_below_the_model_minimum_is_not_cached() -> None:
    cache = AnthropicCache()
    small = request(user(text(SMALL)), system=SMALL)
    assert cache.account(small)["cache_creation_input_tokens"] == 0
    assert cache.account(small)["cache_read_input_tokens"] == 0
    # Opus 4.6 needs 4096 tokens: the 2003-token system prompt is too short for it.
    opus = request(user(text(SMALL)), model="claude-opus-4-6")
    assert cache.account(opus)["cache_creation_input_tokens"] == 0


def test_entries_live_five_minutes_from_their_last_use() -> None:
    cache = AnthropicCache()
    body = request(user(text(SMALL)))
    cache.account(body)
    cache.clock.advance(240)
    assert cache.account(body)["cache_read_input_tokens"] > 0  # refreshed at 4 minutes
    cache.clock.advance(240)
    assert cache.account(body)["cache_read_input_tokens"] > 0  # 8 minutes after the write
    cache.clock.advance(301)
    expired = cache.account(body)
    assert expired["cache_read_input_tokens"] == 0
    assert expired["cache_creation_input_tokens"] > 0
    hour = {"model": MODEL, "system": [{**text(BIG), "cache_control": {**EPH, "ttl": "1h"}}],
            "messages": [user(text(SMALL))]}
    cache = AnthropicCache()
    assert cache.account(hour)["cache_creation"]["ephemeral_1h_input_tokens"] > 0
    cache.clock.advance(1800)
    assert cache.account(hour)["cache_read_input_tokens"] > 0


def test_a_thinking_change_drops_message_caches_but_keeps_tools_and_system() -> None:
    cache = AnthropicCache()
    messages = [user(text(BIG, mark=True)), assistant("a"), user(text(SMALL, mark=True))]
    cache.account(request(*messages, thinking=2048))
    same = cache.account(request(*messages, thinking=2048))
    assert same["cache_creation_input_tokens"] == 0
    changed = cache.account(request(*messages, thinking=8192))
    assert changed["cache_read_input_tokens"] == count_tokens(text(BIG))  # the system only
    assert changed["cache_creation_input_tokens"] > 0


def test_another_model_has_its_own_cache() -> None:
    cache = AnthropicCache()
    cache.account(request(user(text(SMALL))))
    other = cache.account(request(user(text(SMALL)), model="claude-opus-5-5"))
    assert other["cache_read_input_tokens"] == 0


def test_markers_the_api_refuses() -> None:
    cache = AnthropicCache()
    five = request(*[user(text(f"{i}" * 10, mark=True)) for i in range(4)])
    with pytest.raises(CacheRequestError, match="maximum of 4 blocks"):
        cache.account(five)
    thinking = {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "t", "signature": "s", "cache_control": EPH}]}
    with pytest.raises(CacheRequestError, match="thinking"):
        cache.account(request(user(text("q")), thinking, user(text("r"))))


GEMINI = "gemini-3.5-flash"  # minimum: 4096 tokens


def gemini_request(*texts: str, system: str = "s" * 20000) -> dict[str, Any]:
    return {"systemInstruction": {"parts": [{"text": system}]},
            "contents": [{"role": "user", "parts": [{"text": t}]} for t in texts]}


def test_gemini_bills_a_repeated_prefix_as_cached() -> None:
    cache = GeminiCache()
    first = cache.account(GEMINI, gemini_request("one"))
    assert first["cachedContentTokenCount"] == 0
    second = cache.account(GEMINI, gemini_request("one", "two"))
    assert second["cachedContentTokenCount"] == first["promptTokenCount"]
    short = GeminiCache()
    short.account(GEMINI, gemini_request("one", system="tiny"))
    assert short.account(GEMINI, gemini_request("one", system="tiny"))[
        "cachedContentTokenCount"] == 0


def test_gemini_explicit_cache_and_its_refusals() -> None:
    cache = GeminiCache()
    body = gemini_request("context")
    made = cache.create({**body, "model": f"models/{GEMINI}", "ttl": "60s"})
    assert made["usageMetadata"]["totalTokenCount"] >= 4096
    use = {"cachedContent": made["name"], "contents": [
        {"role": "user", "parts": [{"text": "the question"}]}]}
    billed = cache.account(GEMINI, use)
    assert billed["cachedContentTokenCount"] == made["usageMetadata"]["totalTokenCount"]
    with pytest.raises(CacheRequestError, match="system_instruction, tools or tool_config"):
        cache.check(GEMINI, {**use, "systemInstruction": {"parts": [{"text": "again"}]}})
    with pytest.raises(CacheRequestError, match="has to be the same"):
        cache.check("gemini-2.5-pro", use)
    with pytest.raises(CacheRequestError, match="too small"):
        cache.create({**gemini_request("c", system="tiny"), "model": GEMINI})
    cache.clock.advance(61)
    with pytest.raises(CacheRequestError, match="not found") as expired:
        cache.check(GEMINI, use)
    assert expired.value.status == 403
