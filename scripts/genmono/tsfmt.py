"""Small helpers that turn Python values into TypeScript source text."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence


def render(template: str, values: dict[str, str]) -> str:
    """Replace ``%KEY%`` placeholders; an unknown key is a bug in this script."""
    return re.sub(r"%([A-Z][A-Z0-9_]*)%", lambda m: values[m.group(1)], template)


def q(text: str) -> str:
    """A TypeScript string literal (JSON strings are valid TS literals for ASCII text)."""
    return json.dumps(text)


def ts_list(items: Sequence[object]) -> str:
    return "[" + ", ".join(q(i) if isinstance(i, str) else str(i) for i in items) + "]"


def indent(lines: Sequence[str], depth: int) -> str:
    pad = "  " * depth
    return "\n".join(pad + line if line else line for line in lines)


def js_sorted(items: Sequence[str]) -> list[str]:
    """Array.prototype.sort() order; equals Python's for the ASCII strings used here."""
    return sorted(items)


def count_lines(text: str) -> int:
    return text.count("\n")


def import_line(names: Sequence[str], spec: str) -> str:
    """A named import, wrapped one name per line (prettier style) beyond 100 columns."""
    line = f"import {{ {', '.join(names)} }} from {q(spec)};"
    if len(line) <= 100:
        return line
    return "\n".join(["import {", *[f"  {name}," for name in names], f"}} from {q(spec)};"])
