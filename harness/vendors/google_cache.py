"""Gemini's prompt caches, and when an explicit one pays (docs/caching.md).

Implicit caching needs nothing but a stable prefix: Gemini 2.5 and later bill a repeated prefix
at the cached rate once it reaches the model's minimum, with no guarantee that it does
(ai.google.dev "Context caching"). An explicit ``cachedContents`` entry guarantees the cached
rate for what it holds (here: system instruction, tools and the stable ticket context), at the
cost of writing it once at the input price and storing it by the hour; a request that names it
sends neither system instruction nor tools.

When it pays, from the catalog alone: after the prefix has been sent ``n`` times, implicit
caching has cost about ``(n - 1) × P × (1 - h) × (input - cached)`` more than a guaranteed read
would have (``h``: the share of a repeated prefix assumed to hit implicitly), and an explicit
cache costs ``P × (input + storage × hours)`` to make and keep for the rest of the attempt. In
``auto`` an attempt creates it once the first has caught up with the second (the classic
rent-or-buy rule: never more than about twice the better of the two) and only for a prefix of
at least the model's minimum; the prefix size ``P`` cancels out of the break-even, it decides
only whether the cache may exist at all.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Any, Literal

from harness.config.schema import ModelEntry, Price
from harness.vendors.types import ModelRequest

ContextCache = Literal["auto", "implicit", "explicit"]
# Google promises nothing about implicit hits: a repeated prefix is assumed to be billed at the
# cached rate half the time when deciding whether an explicit cache pays.
IMPLICIT_HIT = 0.5
TTL_MARGIN_S = 60.0  # the cache outlives the attempt's deadline by this much
STATE_KEY = "gemini_cached_content"  # in ModelResponse.vendor_state, read back next turn
CHARS_PER_TOKEN = 4  # an estimate: the decision needs the order of magnitude, not the count


def break_even(price: Price, hours: float) -> float | None:
    """Requests after which an explicit cache has paid for itself (None: it never does)."""
    saving = (1 - IMPLICIT_HIT) * (price.input - price.cache_read)
    if price.cache_storage is None or saving <= 0:
        return None
    return (price.input + price.cache_storage * hours) / saving


def create_at(price: Price, timeout_s: float) -> int | None:
    """The request (1-based) of an attempt that creates the cache in ``auto``."""
    n = break_even(price, (timeout_s + TTL_MARGIN_S) / 3600)
    return None if n is None else 1 + math.ceil(n)


def describe(entry: ModelEntry, mode: ContextCache | None, timeout_s: float) -> str:
    """One line for ``harness check``: what the stage's attempts cache and when."""
    minimum = entry.cache_min_tokens
    implicit = f"implicit (prefix ≥ {minimum:,} tokens)" if minimum else "implicit"
    if mode == "implicit":
        return implicit
    if mode == "explicit":
        return f"explicit cachedContents from request 1 when the stable prefix ≥ {minimum:,}"
    at, price = create_at(entry.price, timeout_s), entry.price
    if at is None:
        return f"{implicit}; explicit never pays (no storage price in the catalog)"
    return (f"{implicit}; explicit cachedContents from request {at} of an attempt whose stable "
            f"prefix ≥ {minimum or 0:,} tokens (break-even: ${price.input:g} input vs "
            f"${price.cache_read:g} cached, ${price.cache_storage:g}/Mtok·h storage, implicit "
            f"hits assumed {IMPLICIT_HIT:.0%})")


@dataclass(frozen=True)
class Handle:
    """An explicit cache an attempt made, as carried in its transcript."""

    name: str
    digest: str
    expires_at: float  # time.time()

    def state(self) -> dict[str, Any]:
        return {STATE_KEY: self.name, "prefix": self.digest, "expires_at": self.expires_at}


def stable_text(request: ModelRequest) -> str:
    first = request.messages[0] if request.messages else None
    return first.text[: first.stable_chars] if first and first.role == "user" else ""


def prefix_digest(request: ModelRequest) -> str:
    """What the cache holds: model, system instruction, tools and the stable context."""
    tools = [(t.name, t.description, t.input_schema) for t in request.tools]
    data = json.dumps([request.settings.model_id, request.system, tools, stable_text(request)],
                      sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def prefix_tokens(request: ModelRequest) -> int:
    tools = json.dumps([(t.name, t.description, t.input_schema) for t in request.tools],
                       default=str)
    return (len(request.system) + len(tools) + len(stable_text(request))) // CHARS_PER_TOKEN


def live_handle(request: ModelRequest, digest: str) -> Handle | None:
    """The attempt's explicit cache for this prefix, when one is alive past the deadline (the
    latest word on it counts: a cache found gone is recorded with ``expires_at`` 0)."""
    for message in reversed(request.messages):
        for state in message.vendor_state:
            if state.get(STATE_KEY) and state.get("prefix") == digest:
                handle = Handle(str(state[STATE_KEY]), digest, float(state["expires_at"]))
                alive = handle.expires_at > time.time() + request.remaining()
                return handle if alive else None
    return None


def wanted(request: ModelRequest, mode: ContextCache | None) -> bool:
    """Whether this request should create the explicit cache (none is alive for it)."""
    entry, stable = request.settings.entry, stable_text(request)
    # Something must follow the cached part: a request cannot consist of its cache alone.
    rest = len(request.messages) > 1 or len(request.messages[0].text) > len(stable)
    if mode == "implicit" or not stable or not rest:
        return False
    if prefix_tokens(request) < (entry.cache_min_tokens or 0):
        return False
    if mode == "explicit":
        return True
    at = create_at(entry.price, request.remaining())
    sent = 1 + sum(m.role == "assistant" for m in request.messages)
    return at is not None and sent >= at


def ttl_seconds(request: ModelRequest) -> int:
    return math.ceil(request.remaining() + TTL_MARGIN_S)


def storage_usd(price: Price, tokens: int, ttl_s: float) -> float:
    return tokens * (price.cache_storage or 0.0) * ttl_s / 3600 / 1e6
