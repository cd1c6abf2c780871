"""Signatures cut to what a map reader needs, so long generic types do not eat the budget:
long type arguments become ``<…>`` (``Map<string, Array<Foo<Bar>>>`` -> ``Map<…>``), a long
parameter list keeps its names (``(selection?, alias?)``), and the line is capped."""

from __future__ import annotations

MAX_CHARS = 100
TYPE_ARGS_CHARS = 24  # type arguments longer than this, or nested and over 12, are elided
PARAMS_CHARS = 48  # a parameter list longer than this keeps only its names


def shorten(signature: str) -> str:
    text = _params(_type_args(signature))
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS - 1] + "…"


def _type_args(text: str) -> str:
    out: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "<" and (i == 0 or text[i - 1] != "<"):
            if depth == 0:
                out.append(text[start:i + 1])
                start = i + 1
            depth += 1
        elif ch == ">" and depth > 0 and text[i - 1] != "=":
            depth -= 1
            if depth == 0:
                inner = text[start:i]
                long = len(inner) > TYPE_ARGS_CHARS or ("<" in inner and len(inner) > 12)
                out.append("…" if long else inner)
                start = i
    if depth:  # unbalanced (a comparison, a cut signature): leave it as it was
        return text
    out.append(text[start:])
    return "".join(out)


def _params(text: str) -> str:
    open_at = text.find("(")
    if open_at < 0:
        return text
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            inner = text[open_at + 1:i]
            if len(inner) <= PARAMS_CHARS:
                return text
            return text[:open_at + 1] + ", ".join(_names(inner)) + text[i:]
    return text


def _names(params: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(params):
        if ch in "([{<":
            depth += 1
        elif ch in ")]}>" and not (ch == ">" and params[i - 1] == "="):
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(params[start:i])
            start = i + 1
    parts.append(params[start:])
    names = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        name = part.split(":", 1)[0].split("=", 1)[0].strip()
        names.append(name if len(name) <= 30 else "…")
    return names
