"""Symbols of a file the grammar rejects: tree-sitter-typescript 0.23 fails on valid current
TypeScript (``export type * from``, generic call signatures with labelled rest tuples), and its
error recovery can swallow a whole file into one ERROR node. Such a file is cut at its top-level
statements (lines that start a declaration at column 0); each piece is parsed alone, so one bad
statement costs only itself, and a piece that still fails is named from its first line."""

from __future__ import annotations

import re
from typing import NamedTuple

_START = re.compile(rb"^(?:export|import|declare|abstract|async|function|class|interface|type|"
                    rb"enum|const|let|var|namespace|module)\b", re.M)
_HEAD = re.compile(r"^(export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?(?:async\s+)?"
                   r"(function\*?|class|interface|type|enum|const|let|var|namespace)\s+"
                   r"([A-Za-z_$][\w$]*)")


class Piece(NamedTuple):
    start: int  # byte offset in the file
    end: int
    row: int  # 0-based line of ``start``


class Head(NamedTuple):
    name: str
    kind: str
    exported: bool
    signature: str


def pieces(data: bytes) -> list[Piece]:
    """The file cut before every line that starts a top-level statement."""
    starts = [m.start() for m in _START.finditer(data)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts, len(data)]
    rows, row, last = [], 0, 0
    for start in starts:
        row += data.count(b"\n", last, start)
        rows.append(row)
        last = start
    return [Piece(bounds[i], bounds[i + 1], rows[i]) for i in range(len(starts))]


def head(piece: bytes) -> Head | None:
    """What the first line of a statement declares, when the parser could not say."""
    line = piece.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    m = _HEAD.match(line)
    if m is None:
        return None
    kind = "function" if m.group(2).startswith("function") else m.group(2)
    return Head(m.group(3), kind, m.group(1) is not None, line.rstrip("{ =").strip())
