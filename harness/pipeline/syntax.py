"""The syntax guard of the edit tools: an edit or write that breaks a TS/JS/JSON file's syntax is
refused with the place it broke, and the file stays as it was.

A broken file costs far more than the turn that broke it: the next test run fails with a
compiler error that hides the real result (SWE-agent's lint guard on edits: 18.0% vs 15.0%
resolved). The guard compares against the file before the change, so a file that already had
errors (or syntax the parser does not know yet: tree-sitter-typescript 0.23 rejects
``export type * from``) is refused only for errors the change added; a model sure that the
parser is wrong can pass ``allow_syntax_errors``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import tree_sitter as ts

from harness.repomap.extract import language_of, parse

SHOWN = 3  # error places named in one refusal
_JSONC = ("tsconfig", "jsconfig", ".vscode/", "devcontainer")  # JSON files that allow comments


def problems(path: str, data: bytes) -> list[str] | None:
    """Where ``data`` does not parse as ``path``'s language ("line 4: ..."), or None when the
    language is not checked."""
    if path.endswith(".json"):
        if any(part in path for part in _JSONC):
            return None
        try:
            json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return [str(exc)]
        return []
    language = language_of(path)
    if language is None:
        return None
    root = parse(data, language).root_node
    return [f"line {n.start_point[0] + 1}: {_what(n)}" for n in _errors(root)] if \
        root.has_error else []


def refusal(path: str, before: bytes | None, after: bytes) -> str | None:
    """Why the change from ``before`` (None: a new file) to ``after`` is refused, or None."""
    now = problems(path, after)
    if not now:
        return None
    was = problems(path, before) if before is not None else []
    if was is None or len(now) <= len(was):
        return None
    places = "; ".join(now[:SHOWN]) + (f"; and {len(now) - SHOWN} more" if len(now) > SHOWN
                                        else "")
    return (f"refused: the change leaves {path} with a syntax error ({places}). The file is "
            "unchanged. Fix the edit (balanced brackets, quotes, commas); if you are sure the "
            "code is valid and the checker is wrong, repeat it with allow_syntax_errors=true")


def _errors(node: ts.Node) -> Iterator[ts.Node]:
    if node.is_error or node.is_missing:
        yield node
        return
    for child in node.children:
        if child.has_error or child.is_missing:
            yield from _errors(child)


def _what(node: ts.Node) -> str:
    if node.is_missing:
        return f"missing `{node.type}`"
    text = (node.text or b"").decode("utf-8", "replace").strip().splitlines()
    return f"unexpected `{text[0][:40]}`" if text else "unexpected input"
