"""Loopback vendors for the fault soak: each answers a ticket's stages as a function of the
request alone (concurrent tickets share no cursor) and, at random but reproducibly, answers with
a fault instead: 429 with retry-after, 500, 529, a hang past the stage's timeout, a malformed
body, or a stream dropped mid-way.

A fault is drawn from ``Random(seed, ticket, stage, turn, n)``, where ``n`` counts the times
that same request was asked before (a retry draws again), so a ticket meets the same faults on
every run with the same seed, whatever the other tickets do meanwhile.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from typing import Any

from harness.fakes.anthropic_server import AnthropicHandler, status, tool_use
from harness.fakes.gemini_server import GeminiHandler
from harness.fakes.loopback import Recorded, Reply

BUGGY = 'exports.slugify = (t) => t.toLowerCase().replace(/[^a-z0-9]+/g, "-");\n'
FIXED = ('exports.slugify = (t) =>\n'
         '  t.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");\n')
MANIFEST = {"summary": "fix slugify", "sub_tickets": [{
    "id": "S1", "title": "trim dashes in slugify", "files": ["src/slug.js"],
    "operations": [{"op": "modify", "path": "src/slug.js", "symbol": "slugify"}]}]}
# Fault kinds and their share of the injected faults; a hang costs a whole attempt, so rarer.
KINDS = {"429": 3, "500": 2, "529": 2, "malformed": 2, "dropped": 2, "hang": 1}


class Faults:
    """The soak's dice and its tally (shared by both servers' handler threads)."""

    def __init__(self, seed: int, rate: float) -> None:
        self.seed, self.rate = seed, rate
        self.injected: Counter[str] = Counter()
        self.asked: Counter[tuple[str, ...]] = Counter()
        self.lock = threading.Lock()

    def draw(self, *key: str) -> str | None:
        with self.lock:
            n = self.asked[key]
            self.asked[key] += 1
        dice = random.Random(":".join((str(self.seed), *key, str(n))))
        if dice.random() >= self.rate:
            return None
        kind = dice.choices(list(KINDS), weights=list(KINDS.values()))[0]
        with self.lock:
            self.injected[kind] += 1
        return kind


def _text_of(value: Any) -> str:
    """A message's or system prompt's text, whether a string or a list of blocks/parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("text") or "") + _text_of(value.get("parts") or "")
    return ""


def _ticket(first_turn: str) -> str:
    return first_turn.split(":", 1)[0].removeprefix("# ").strip()


def _stage(system: str) -> str:
    for stage in ("Planner", "Coder", "Reviewer", "Debugger"):
        if f"You are the {stage}" in system:
            return stage.lower()
    return "unknown"


class FaultyAnthropic(AnthropicHandler):
    """The Planner and Coder's Anthropic API: a manifest; a fix (a buggy one on the first
    attempt of odd tickets), then finish."""

    faults: Faults

    def record(self) -> Recorded:
        self.current = super().record()
        return self.current

    def next_reply(self) -> Reply | None:
        body = self.current.body if isinstance(self.current.body, dict) else {}
        messages = body.get("messages") or [{}]
        ticket = _ticket(_text_of(messages[0].get("content")))
        stage = _stage(_text_of(body.get("system")))
        turn = str(len(messages) // 2)
        fault = self.faults.draw(ticket, stage, turn, json.dumps(body.get("output_config")))
        if fault is not None:
            return _anthropic_fault(fault)
        if stage == "planner":
            return tool_use("submit_manifest", MANIFEST, call_id="toolu_plan")
        if turn != "0":
            return tool_use("finish", {"summary": "slugify trims dashes"}, call_id="toolu_fin")
        first = (body.get("output_config") or {}).get("effort") in (None, "medium")
        source = BUGGY if first and int(ticket[-1]) % 2 else FIXED
        return tool_use("write_file", {"path": "src/slug.js", "content": source},
                        call_id="toolu_write")


def _anthropic_fault(kind: str) -> Reply:
    if kind == "429":
        return status(429, "rate limited by the soak", retry_after=1)
    if kind in ("500", "529"):
        return status(int(kind), f"soak {kind}")
    if kind == "malformed":
        return Reply("garbage", {})
    if kind == "dropped":
        return Reply("truncated_stream", {"after_events": 3})
    return Reply("hang", {})


class FaultyGemini(GeminiHandler):
    """The Reviewer's Gemini API: approve."""

    faults: Faults

    def record(self) -> Recorded:
        self.current = super().record()
        return self.current

    def next_reply(self) -> Reply | None:
        body = self.current.body if isinstance(self.current.body, dict) else {}
        contents = body.get("contents") or [{}]
        ticket = _ticket(_text_of(contents[0].get("parts")))
        stage = _stage(_text_of((body.get("systemInstruction") or {}).get("parts")))
        fault = self.faults.draw(ticket, stage, str(len(contents) // 2))
        if fault == "429":
            return Reply("status", {"code": 429, "retry_delay": "1s"})
        if fault in ("500", "529"):  # Gemini has no 529: its overloaded is a 503
            return Reply("status", {"code": 500 if fault == "500" else 503})
        if fault == "malformed":
            return Reply("garbage", {})
        if fault == "dropped":
            return Reply("truncated_stream", {})
        if fault == "hang":
            return Reply("hang", {})
        return Reply("function_call", {"calls": [
            {"name": "submit_review", "args": {"verdict": "approve", "findings": []}}]})


__all__ = ["BUGGY", "FIXED", "KINDS", "MANIFEST", "Faults", "FaultyAnthropic", "FaultyGemini"]
