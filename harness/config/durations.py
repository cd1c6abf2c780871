"""Durations written with a unit (``300s``, ``2m``, ``1h30m``): a bare number is refused because
``timeout: 300`` could mean seconds or milliseconds, and the seed's rule is no hidden meaning."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MIN_SECONDS = 1.0
MAX_SECONDS = 24 * 3600.0


class DurationError(ValueError):
    """A duration that cannot be used; ``hint`` says how to write it instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def parse_duration(value: object) -> float:
    """Seconds in ``value``; raise ``DurationError`` for a missing unit or an unusable length."""
    if isinstance(value, bool) or value is None:
        raise DurationError(f"`{value}` is not a duration", "write it with a unit, e.g. 120s or 5m")
    if isinstance(value, int | float):
        sign = "-" if value < 0 else ""
        raise DurationError(f"`{value}` has no unit",
                            f"write {sign}{abs(value):g}s (seconds), or use m / h")
    text = str(value).strip().replace(" ", "")
    if text.startswith("-"):
        raise DurationError(f"`{value}` is negative", "a timeout is a positive duration, e.g. 120s")
    if not text or _PART.sub("", text):
        raise DurationError(f"`{value}` is not a duration",
                            "write a number and a unit (ms, s, m, h), e.g. 300s, 2m, 1h30m")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise DurationError(f"`{value}` is zero", "a stage must be allowed some time, e.g. 120s")
    if seconds < MIN_SECONDS:
        raise DurationError(f"`{value}` is shorter than 1s",
                            "no model call completes that fast; use at least 1s")
    if seconds > MAX_SECONDS:
        raise DurationError(f"`{value}` is longer than 24h",
                            "a stage that may hang for a day is not bounded; use at most 24h")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds under an hour (``300s``, as the seed writes them), else hours and minutes."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h" + (f"{minutes}m" if minutes else "") + (f"{secs}s" if secs else "")
