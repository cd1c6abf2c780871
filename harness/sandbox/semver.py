"""Just enough of npm's semver ranges to pick a Node major for ``engines.node``: comparators,
x-ranges, ``~``, ``^``, hyphen ranges and ``||``, each set turned into a half-open interval of
(major, minor, patch). Pre-release tags are ignored (Node's releases have none)."""

from __future__ import annotations

import re

Version = tuple[int, int, int]
Interval = tuple[Version, Version]  # [low, high)

INFINITY: Version = (1 << 30, 0, 0)
_PARTIAL = re.compile(r"^v?(\d+|[xX*])?(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$")
_COMPARATOR = re.compile(r"^(<=|>=|<|>|=|~>|~|\^)?\s*(.*)$")


class RangeError(ValueError):
    pass


def intervals(text: str) -> list[Interval]:
    """The versions ``text`` admits, as disjoint-or-not intervals (one per ``||`` set)."""
    out = []
    for alternative in text.split("||"):
        low, high = (0, 0, 0), INFINITY
        for lo, hi in _set(alternative.strip()):
            low, high = max(low, lo), min(high, hi)
        if low < high:
            out.append((low, high))
    return out


def within_major(text: str, major: int) -> list[Interval]:
    """The part of ``text`` inside ``major``.x."""
    lo_m, hi_m = (major, 0, 0), (major + 1, 0, 0)
    return [(max(lo, lo_m), min(hi, hi_m)) for lo, hi in intervals(text)
            if max(lo, lo_m) < min(hi, hi_m)]


def as_range(parts: list[Interval]) -> str:
    """Intervals back to an npm range: ``>=20.19.0 <21.0.0-0 || …``."""
    def bound(v: Version) -> str:
        return ".".join(map(str, v))
    return " || ".join(f">={bound(lo)}" + ("" if hi == INFINITY else f" <{bound(hi)}-0")
                       for lo, hi in parts)


def _set(text: str) -> list[Interval]:
    hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if hyphen:
        return [(_partial(hyphen[1])[0], _upper_inclusive(hyphen[2]))]
    tokens = re.sub(r"(<=|>=|<|>|=|~>|~|\^)\s+", r"\1", text).split()
    return [_comparator(t) for t in tokens] or [((0, 0, 0), INFINITY)]


def _partial(text: str) -> tuple[Version, int]:
    """The lowest version ``text`` names and how many of its parts were given."""
    m = _PARTIAL.match(text.strip())
    if m is None:
        raise RangeError(f"not a version: {text!r}")
    parts = []
    for group in m.groups():
        if group is None or not group.isdigit():
            break
        parts.append(int(group))
    given = len(parts)
    return (tuple([*parts, 0, 0, 0][:3]), given)  # type: ignore[return-value]


def _bump(v: Version, given: int) -> Version:
    """The first version past everything a partial with ``given`` parts names."""
    if given == 0:
        return INFINITY
    if given == 1:
        return (v[0] + 1, 0, 0)
    if given == 2:
        return (v[0], v[1] + 1, 0)
    return (v[0], v[1], v[2] + 1)


def _upper_inclusive(text: str) -> Version:
    v, given = _partial(text)
    return _bump(v, given)


def _comparator(token: str) -> Interval:
    m = _COMPARATOR.match(token)
    assert m is not None  # the pattern accepts anything
    op, (v, given) = m[1] or "", _partial(m[2])
    if op in ("", "="):
        return v, _bump(v, given)
    if op == ">=":
        return v, INFINITY
    if op == ">":
        return _bump(v, given), INFINITY
    if op == "<":
        return (0, 0, 0), v
    if op == "<=":
        return (0, 0, 0), _bump(v, given)
    if op in ("~", "~>"):
        return v, _bump(v, min(max(given, 1), 2))
    # caret: the leftmost non-zero part may not change
    if given == 0:
        return v, INFINITY
    if v[0] > 0 or given == 1:
        return v, (v[0] + 1, 0, 0)
    if v[1] > 0 or given == 2:
        return v, (0, v[1] + 1, 0)
    return v, (0, 0, v[2] + 1)
