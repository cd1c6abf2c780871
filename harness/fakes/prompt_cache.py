"""Prompt-cache accounting for the loopback servers: what a vendor bills as cache reads and writes
for a request, worked out from the request itself, so tests and benchmarks check the cache
numbers the harness records, not only the markers it sends.

Anthropic (Messages API; platform.claude.com "Prompt caching" and "Tool use with prompt
caching"):

- the prompt is one prefix, tools → system → messages; a ``cache_control`` breakpoint caches the
  prefix up to and including its block, for the model it was sent to;
- at most 4 breakpoints in a request (a 400 beyond that);
- a breakpoint reads the longest live prefix that ends at its own block or at one of the 20
  blocks before it (the lookback window): an entry further back is not found;
- a prefix shorter than the model's minimum cacheable length is silently not cached (the
  catalog's ``cache_min_tokens``);
- an entry lives 5 minutes (``"ttl": "1h"``: an hour) from its last use; a read refreshes it;
- changing the thinking settings or ``tool_choice`` drops the message-level entries, tools and
  system stay cached. ``output_config.effort`` is not part of the key: measured against the API
  in anthropics/claude-code issue #63962 (a full read after an effort change).

``usage``: ``cache_read_input_tokens`` is the prefix read; ``cache_creation_input_tokens`` runs
from there to the last breakpoint that is written; ``input_tokens`` is what is left (after the
last breakpoint).

Gemini (ai.google.dev "Context caching"): implicit caching bills a repeated prefix at the cached
rate once it reaches the model's minimum, with no marker; ``cachedContents`` hold an explicit
prefix (system instruction, tools, leading contents) that a request names with
``cachedContent`` and may not repeat. ``cachedContentTokenCount`` is the part of
``promptTokenCount`` read from a cache. How long Google keeps an implicit entry is not
documented ("requests with a similar prefix in a short amount of time"): 5 minutes here.

No tokenizer ships offline: a block counts one token per 4 characters of its text, plus 3. The
benchmark computes its reference costs with the same count.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from harness.config.catalog import packaged_catalog

CHARS_PER_TOKEN = 4
BLOCK_OVERHEAD = 3
LOOKBACK = 20
MAX_BREAKPOINTS = 4
TTLS = {"5m": 300.0, "1h": 3600.0}
IMPLICIT_TTL = 300.0
DEFAULT_MIN_TOKENS = 1024


class CacheRequestError(ValueError):
    """A request the vendor refuses because of how it uses the cache."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


class Clock:
    """Monotonic time that a test can move forward (``advance``) to expire entries."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def flat_text(value: Any) -> str:
    """The words of a block: every string and number in it, keys left out."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(flat_text(v) for v in value.values() if v is not None)
    if isinstance(value, list | tuple):
        return " ".join(flat_text(v) for v in value)
    return "" if value is None else str(value)


def count_tokens(value: Any) -> int:
    return -(-len(flat_text(value)) // CHARS_PER_TOKEN) + BLOCK_OVERHEAD


def min_tokens(model: str) -> int:
    found = packaged_catalog().resolve(model.removeprefix("models/"))
    minimum = found[1].cache_min_tokens if found else None
    return minimum or DEFAULT_MIN_TOKENS


@dataclass(frozen=True)
class Block:
    section: str  # tools, system, messages (Anthropic); system, tools, contents (Gemini)
    tokens: int
    digest: bytes  # of the whole prefix up to and including this block
    ttl: float | None = None  # a breakpoint's lifetime (Anthropic)


def chain(start: bytes, items: Iterable[tuple[str, Any, float | None]],
          salt: Callable[[str], str] = lambda _: "", section: str | None = None) -> list[Block]:
    """Blocks with their prefix digests; ``salt(section)`` enters the chain where a section
    starts (what else the entries of that section are keyed by). ``start`` and ``section``
    continue a chain where another one ended."""
    blocks: list[Block] = []
    digest = start
    for name, obj, ttl in items:
        if name != section:
            section = name
            digest = hashlib.sha256(digest + b"|" + salt(name).encode()).digest()
        canonical = json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()
        digest = hashlib.sha256(digest + canonical).digest()
        blocks.append(Block(name, count_tokens(obj), digest, ttl))
    return blocks


# -- Anthropic ---------------------------------------------------------------------------------

def anthropic_blocks(body: dict[str, Any]) -> list[Block]:
    """The request's prompt as blocks in cache order. Raises ``CacheRequestError`` for markers
    the API refuses."""
    items: list[tuple[str, Any, float | None]] = []
    for tool in body.get("tools") or []:
        items.append(_item("tools", tool))
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        items.append(_item("system", block))
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks or []:
            items.append(_item("messages", {"role": message.get("role"), **block}))
    auto = body.get("cache_control")
    if isinstance(auto, dict) and items:  # automatic caching: the last cacheable block
        items[-1] = (items[-1][0], items[-1][1], _ttl(auto))
    keyed = {"thinking": body.get("thinking"), "tool_choice": body.get("tool_choice")}
    start = hashlib.sha256(str(body.get("model", "")).encode()).digest()
    return chain(start, items, lambda s: json.dumps(keyed, sort_keys=True)
                 if s == "messages" else "")


def checked_blocks(body: dict[str, Any]) -> list[Block]:
    """``anthropic_blocks``, refusing more breakpoints than the API allows."""
    blocks = anthropic_blocks(body)
    marks = sum(b.ttl is not None for b in blocks)
    if marks > MAX_BREAKPOINTS:
        raise CacheRequestError(400, f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control "
                                f"may be provided. Found {marks}.")
    return blocks


def _item(section: str, block: dict[str, Any]) -> tuple[str, Any, float | None]:
    marker = block.get("cache_control")
    plain = {k: v for k, v in block.items() if k != "cache_control"}
    if marker is not None:
        if plain.get("type") in ("thinking", "redacted_thinking"):
            raise CacheRequestError(400, "cache_control cannot be set on thinking blocks")
        if plain.get("type") == "text" and not plain.get("text"):
            raise CacheRequestError(400, "cache_control cannot be set for empty text blocks")
    return section, plain, _ttl(marker) if isinstance(marker, dict) else None


def _ttl(marker: dict[str, Any]) -> float:
    ttl = str(marker.get("ttl", "5m"))
    if marker.get("type") != "ephemeral" or ttl not in TTLS:
        raise CacheRequestError(400, f"cache_control: unsupported marker {json.dumps(marker)}")
    return TTLS[ttl]


@dataclass
class AnthropicCache:
    """The cache of one loopback Messages API: entries by prefix digest."""

    clock: Clock = field(default_factory=Clock)
    entries: dict[bytes, tuple[float, float]] = field(default_factory=dict)  # expiry, ttl
    lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, body: dict[str, Any]) -> dict[str, Any]:
        """The cache fields of this request's ``usage``; entries are read and written."""
        blocks = checked_blocks(body)
        marks = [i for i, b in enumerate(blocks) if b.ttl is not None]
        sums = list(accumulate(b.tokens for b in blocks))
        minimum = min_tokens(str(body.get("model", "")))
        with self.lock:
            now = self.clock.now()
            hit = max((self._lookup(blocks, m, now) for m in marks), default=-1)
            self._refresh(blocks[: hit + 1], now)
            written = [m for m in marks if m > hit and sums[m] >= minimum]
            for m in written:
                ttl = blocks[m].ttl or TTLS["5m"]
                self.entries[blocks[m].digest] = (now + ttl, ttl)
        read = sums[hit] if hit >= 0 else 0
        by_ttl = {"5m": 0, "1h": 0}
        start = read
        for m in written:
            by_ttl["1h" if blocks[m].ttl == TTLS["1h"] else "5m"] += sums[m] - start
            start = sums[m]
        total = sums[-1] if sums else 0
        return {"input_tokens": total - start, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": start - read,
                "cache_creation": {"ephemeral_5m_input_tokens": by_ttl["5m"],
                                   "ephemeral_1h_input_tokens": by_ttl["1h"]}}

    def _lookup(self, blocks: list[Block], mark: int, now: float) -> int:
        for i in range(mark, max(mark - LOOKBACK, 0) - 1, -1):
            entry = self.entries.get(blocks[i].digest)
            if entry is not None and entry[0] > now:
                return i
        return -1

    def _refresh(self, read: list[Block], now: float) -> None:
        for block in read:
            entry = self.entries.get(block.digest)
            if entry is not None and entry[0] > now:
                self.entries[block.digest] = (now + entry[1], entry[1])


# -- Gemini ------------------------------------------------------------------------------------

def pick(obj: Any, camel: str) -> Any:
    """A request field under either spelling (the SDK and the gemini CLI do not agree)."""
    if not isinstance(obj, dict):
        return None
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return obj[camel] if camel in obj else obj.get(snake)


def gemini_items(body: dict[str, Any]) -> list[tuple[str, Any, float | None]]:
    """System instruction, function declarations, then every part of every content."""
    items: list[tuple[str, Any, float | None]] = []
    system = pick(body, "systemInstruction")
    if system:
        items.append(("system", system, None))
    for tool in pick(body, "tools") or []:
        items += [("tools", decl, None) for decl in pick(tool, "functionDeclarations") or []]
    for content in pick(body, "contents") or []:
        role = content.get("role", "user") if isinstance(content, dict) else "user"
        items += [("contents", {"role": role, **part}, None)
                  for part in pick(content, "parts") or []]
    return items


@dataclass(frozen=True)
class Explicit:
    name: str
    model: str
    blocks: list[Block]
    expires: float
    resource: dict[str, Any]


def gemini_blocks(model: str, body: dict[str, Any], base: Explicit | None = None) -> list[Block]:
    """A generateContent request's whole prompt: the explicit cache it names (``base``) first,
    then its contents; else its system instruction, tools and contents."""
    if base is None:
        return chain(_start(model), gemini_items(body))
    contents = gemini_items({"contents": pick(body, "contents")})
    last = base.blocks[-1]
    return [*base.blocks, *chain(last.digest, contents, section=last.section)]


@dataclass
class GeminiCache:
    """Implicit prefix hits and ``cachedContents`` of one loopback Gemini API."""

    clock: Clock = field(default_factory=Clock)
    implicit: dict[bytes, float] = field(default_factory=dict)
    explicit: dict[str, Explicit] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST cachedContents``: the CachedContent resource made from ``body``."""
        model = str(pick(body, "model") or "")
        if not model:
            raise CacheRequestError(400, "CachedContent.model is required")
        blocks = chain(_start(model), gemini_items(body))
        tokens = sum(b.tokens for b in blocks)
        minimum = min_tokens(model)
        if tokens < minimum:
            raise CacheRequestError(400, f"Cached content is too small. total_token_count="
                                    f"{tokens}, min_total_token_count={minimum}")
        ttl = _seconds(str(pick(body, "ttl") or "3600s"))
        name = f"cachedContents/{uuid.uuid4().hex[:12]}"
        wall = datetime.now(UTC)
        resource = {"name": name, "model": model, "displayName": pick(body, "displayName") or "",
                    "createTime": _iso(wall), "updateTime": _iso(wall),
                    "expireTime": _iso(wall + timedelta(seconds=ttl)),
                    "usageMetadata": {"totalTokenCount": tokens}}
        with self.lock:
            self.explicit[name] = Explicit(name, model, blocks, self.clock.now() + ttl,
                                           resource)
        return resource

    def account(self, model: str, body: dict[str, Any]) -> dict[str, int]:
        """``promptTokenCount`` and ``cachedContentTokenCount`` of one generateContent."""
        base = self._explicit(model, body)
        blocks = gemini_blocks(model, body, base)
        sums = list(accumulate(b.tokens for b in blocks))
        minimum = min_tokens(model)
        with self.lock:
            now = self.clock.now()
            hits = [i for i, b in enumerate(blocks) if self.implicit.get(b.digest, 0.0) > now]
            for i, b in enumerate(blocks):
                if sums[i] >= minimum:
                    self.implicit[b.digest] = now + IMPLICIT_TTL
        read = max(sums[hits[-1]] if hits else 0, sums[len(base.blocks) - 1] if base else 0)
        return {"promptTokenCount": sums[-1] if sums else 0, "cachedContentTokenCount": read}

    def check(self, model: str, body: dict[str, Any]) -> None:
        """Raise the API's refusal of how ``body`` names a cache, if it would refuse it."""
        self._explicit(model, body)

    def _explicit(self, model: str, body: dict[str, Any]) -> Explicit | None:
        name = pick(body, "cachedContent")
        if not name:
            return None
        with self.lock:
            entry = self.explicit.get(str(name))
        if entry is None or entry.expires <= self.clock.now():
            raise CacheRequestError(403, "CachedContent not found (or permission denied)",
                                    "PERMISSION_DENIED")
        if any(pick(body, k) for k in ("systemInstruction", "tools", "toolConfig")):
            raise CacheRequestError(400, "CachedContent can not be used with GenerateContent "
                                    "request setting system_instruction, tools or tool_config."
                                    "\n\nProposed fix: move those values to CachedContent from "
                                    "GenerateContent request.")
        if entry.model.removeprefix("models/") != model.removeprefix("models/"):
            raise CacheRequestError(400, f"Model used by GenerateContent request ({model}) and "
                                    f"CachedContent ({entry.model}) has to be the same.")
        return entry


def _start(model: str) -> bytes:
    return hashlib.sha256(model.removeprefix("models/").encode()).digest()


def _seconds(duration: str) -> float:
    try:
        return max(float(duration.removesuffix("s")), 0.0)
    except ValueError:
        raise CacheRequestError(400, f"invalid ttl {duration!r}: a duration like \"300s\"") \
            from None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- one cache per loopback server ------------------------------------------------------------

T = TypeVar("T")
_CACHES: WeakKeyDictionary[object, Any] = WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_of(server: object, make: Callable[[], T]) -> T:
    """The cache state of ``server`` (a LoopbackServer), made on first use."""
    with _CACHES_LOCK:
        found = _CACHES.get(server)
        if found is None:
            found = _CACHES[server] = make()
        return found


def forget(server: object) -> None:
    """Drop ``server``'s cache state, as a fresh server would have none."""
    with _CACHES_LOCK:
        _CACHES.pop(server, None)
