"""What a model sees of a file, a listing or a search: bounded, and always saying what it did not
see and how to ask for it.

A result cut without a word reads as the whole: a model that gets the head and tail of a
1,500-line file, or the first 200 of 900 matches, reasons about code it never saw. So a file is
shown as a window of numbered lines (SWE-agent's windowed viewer beat whole-file reads, 18.0% vs
12.7% resolved), with the line range, the file's length and the call that shows the rest; a
listing or search that is cut says how many entries it held back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.vendors.types import ToolSpec

WINDOW_LINES = 400  # lines of a file shown when the call names no range
WINDOW_CHARS = 16_000  # characters of numbered lines in one window, whatever the range
LINE_CHARS = 2_000  # characters of one line (a minified bundle is one line)

_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,),
                                       "boolean": (bool,), "number": (int, float)}


def window(text: str, start: int | None, end: int | None) -> str:
    """Lines ``start``..``end`` (1-based, inclusive) of ``text``, numbered, with a footer when
    the window is not the whole file. A range past the end is an error the model can fix."""
    lines = text.splitlines()
    total = len(lines)
    if total == 0:
        return "(empty file)"
    first = 1 if start is None else start
    if first < 1 or first > total:
        raise ValueError(f"start_line {first} is outside the file, which has {total} lines")
    if end is not None and end < first:
        raise ValueError(f"end_line {end} is before start_line {first}")
    last = min(total, end if end is not None else first + WINDOW_LINES - 1)
    shown: list[str] = []
    used = 0
    for number in range(first, last + 1):
        line = _clip(lines[number - 1])
        entry = f"{number:>6}\t{line}"
        if shown and used + len(entry) + 1 > WINDOW_CHARS:
            last = number - 1
            break
        shown.append(entry)
        used += len(entry) + 1
    body = "\n".join(shown)
    if first == 1 and last == total:
        return body
    more = f"; read on with start_line={last + 1}" if last < total else ""
    return f"{body}\n[lines {first}-{last} of {total}{more}]"


def _clip(line: str) -> str:
    if len(line) <= LINE_CHARS:
        return line
    return f"{line[:LINE_CHARS]} [... {len(line) - LINE_CHARS} characters of this line cut]"


def capped(entries: Sequence[str], limit: int, noun: str, hint: str, empty: str) -> str:
    """``entries`` (already sorted), at most ``limit``, with a footer when some were cut. The
    caller asks for ``limit + 1`` so a cut is known without counting everything."""
    if not entries:
        return empty
    if len(entries) <= limit:
        return "\n".join(entries)
    return "\n".join(entries[:limit]) + f"\n[first {limit} {noun} shown, more exist; {hint}]"


def argument_problem(spec: ToolSpec, arguments: Any) -> str | None:
    """Why ``arguments`` do not fit the tool's schema (an unknown or missing argument, or one of
    the wrong type), or None. Checked before the tool runs: an ignored argument reads as obeyed."""
    if not isinstance(arguments, dict):
        return "the arguments must be a JSON object"
    schema = spec.input_schema
    props: dict[str, Any] = dict(schema.get("properties", {}))
    unknown = sorted(set(arguments) - set(props))
    if unknown:
        return (f"unknown argument(s) {', '.join(unknown)}; {spec.name} takes "
                f"{', '.join(props) or 'no arguments'}")
    missing = [k for k in schema.get("required", ()) if k not in arguments]
    if missing:
        return f"missing required argument(s) {', '.join(missing)}"
    for key, value in arguments.items():
        kind = props[key].get("type")
        types = _TYPES.get(kind) if isinstance(kind, str) else None
        if types is None:
            continue
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            continue  # JSON via protobuf (Gemini) carries every number as a float
        wrong = not isinstance(value, types) or (kind != "boolean" and isinstance(value, bool))
        if wrong:
            return f"argument {key} must be a {kind}, got {type(value).__name__} {value!r:.60}"
    return None
