"""How much of each stage's input the prompt cache served: run.json's ``cache`` and the
report's cache column (docs/caching.md). The share is of every input token the stage sent
(uncached, written to the cache and read from it), so a stage whose turns re-read their whole
history from the cache approaches 1."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

KEYS = ("input_tokens", "cache_read_tokens", "cache_write_tokens")


def share(usage: Mapping[str, Any]) -> float | None:
    """The part of ``usage``'s input read from the cache (None: no input at all)."""
    sent = sum(int(usage.get(k) or 0) for k in KEYS)
    return round(int(usage.get("cache_read_tokens") or 0) / sent, 4) if sent else None


def by_stage(attempts: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per stage, in the order met: its input tokens by how they were billed, and the share
    read from the cache. ``attempts`` are run.json attempt records."""
    stages: dict[str, dict[str, Any]] = {}
    for a in attempts:
        usage = a.get("usage") or {}
        totals = stages.setdefault(str(a["stage"]), dict.fromkeys(KEYS, 0))
        for k in KEYS:
            totals[k] += int(usage.get(k) or 0)
    return {stage: {**t, "cache_share": share(t)} for stage, t in stages.items()}
