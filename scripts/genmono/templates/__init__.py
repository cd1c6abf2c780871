"""The module template families, keyed by kind."""

from __future__ import annotations

from ..model import Kind
from . import cache, events, fsm, graph, money, queue, store, text, validate

KINDS: dict[str, Kind] = {
    "store": store.KIND,
    "cache": cache.KIND,
    "queue": queue.KIND,
    "fsm": fsm.KIND,
    "graph": graph.KIND,
    "text": text.KIND,
    "money": money.KIND,
    "validate": validate.KIND,
    "events": events.KIND,
}
