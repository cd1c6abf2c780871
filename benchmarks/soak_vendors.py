"""Loopback vendors for the fault soak: each answers a ticket's stages as a function of the
request alone (concurrent tickets share no cursor) and, at random but reproducibly, answers with
a fault instead: 429 with retry-after, 500, 529, a hang past the stage's timeout, a malformed
body, or a stream dropped mid-way.

A fault is drawn from ``Random(seed, ticket, stage, turn, n)``, where ``n`` counts the times
that same request was asked before (a retry draws again), so a ticket meets the same faults on
every run with the same seed, whatever the other tickets do meanwhile.

Either server can be down for a window (``Outage``): every request then gets the vendor's
overloaded answer (Anthropic 529, Gemini 503), and the stages' fallbacks must carry the tickets.
Both servers answer every stage, so either can stand in for the other.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.fakes.anthropic_server import AnthropicHandler, status
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


@dataclass
class Outage:
    """``vendor`` is down from ``start`` to ``end`` seconds after ``begin()``."""

    vendor: str
    start: float
    end: float
    t0: float = field(default_factory=time.monotonic)
    refused: int = 0

    def begin(self) -> None:
        self.t0 = time.monotonic()

    def down(self, vendor: str) -> bool:
        now = time.monotonic() - self.t0
        if vendor == self.vendor and self.start <= now < self.end:
            self.refused += 1
            return True
        return False


def script(ticket: str, stage: str, turn: str, first: bool) -> tuple[str, dict[str, Any]]:
    """The tool call a stage makes at a turn, whichever vendor answers it: a manifest; a fix
    (a buggy one on the first attempt of odd tickets), then finish; an approval."""
    if stage == "planner":
        return "submit_manifest", MANIFEST
    if stage == "reviewer":
        return "submit_review", {"verdict": "approve", "findings": []}
    if turn != "0":
        return "finish", {"summary": "slugify trims dashes"}
    source = BUGGY if first and int(ticket[-1]) % 2 else FIXED
    return "write_file", {"path": "src/slug.js", "content": source}


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
    """The Anthropic API of the soak's stages (``script``)."""

    faults: Faults
    outage: Outage | None = None

    def record(self) -> Recorded:
        self.current = super().record()
        return self.current

    def next_reply(self) -> Reply | None:
        body = self.current.body if isinstance(self.current.body, dict) else {}
        messages = body.get("messages") or [{}]
        ticket = _ticket(_text_of(messages[0].get("content")))
        stage = _stage(_text_of(body.get("system")))
        turn = str(len(messages) // 2)
        if self.outage is not None and self.outage.down("anthropic"):
            return status(529, "soak outage: overloaded")
        fault = self.faults.draw(ticket, stage, turn, json.dumps(body.get("output_config")))
        if fault is not None:
            return _anthropic_fault(fault)
        first = (body.get("output_config") or {}).get("effort") in (None, "medium")
        name, args = script(ticket, stage, turn, first)
        return Reply("tool_use", {"name": name, "input": args, "id": f"toolu_{stage}{turn}",
                                  "text": ""})


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
    """The Gemini API of the soak's stages (``script``)."""

    faults: Faults
    outage: Outage | None = None

    def record(self) -> Recorded:
        self.current = super().record()
        return self.current

    def next_reply(self) -> Reply | None:
        body = self.current.body if isinstance(self.current.body, dict) else {}
        contents = body.get("contents") or [{}]
        ticket = _ticket(_text_of(contents[0].get("parts")))
        stage = _stage(_text_of((body.get("systemInstruction") or {}).get("parts")))
        turn = str(len(contents) // 2)
        if self.outage is not None and self.outage.down("google"):
            return Reply("status", {"code": 503})
        fault = self.faults.draw(ticket, stage, turn)
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
        level = ((body.get("generationConfig") or {}).get("thinkingConfig") or {}).get(
            "thinkingLevel")
        name, args = script(ticket, stage, turn, str(level).lower() in ("none", "medium"))
        return Reply("function_call", {"calls": [{"name": name, "args": args}]})


__all__ = ["BUGGY", "FIXED", "KINDS", "MANIFEST", "Faults", "FaultyAnthropic", "FaultyGemini",
           "Outage"]
