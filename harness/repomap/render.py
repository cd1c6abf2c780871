"""The ranked files as a map a model reads: each file's path and its symbols' signatures with
line numbers, best files first, cut to a token budget.

A file near the top shows more of its symbols than one further down; within a file the symbols
the query names come first when not all fit. The map never exceeds its budget (by the
``estimate_tokens`` count, which errs high).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.repomap.extract import Symbol
from harness.repomap.index import RepoIndex
from harness.repomap.rank import Query
from harness.repomap.shorten import shorten
from harness.repomap.terms import estimate_tokens, split_identifier

HEADER = ("The files most relevant to this task, best first, with their "
          "top-level symbols (line: signature). Read a file before relying on it.\n")
CENTRAL_HEADER = ("The task names nothing this repository holds, so these are its central files "
                  "(the most imported), with their top-level symbols (line: signature). Read a "
                  "file before relying on it.\n")
_SYMBOLS_BY_RANK = ((3, 12), (10, 6), (25, 3))  # (files up to this rank, symbols each)
_MEMBER_INDENT = "    "
MIN_FILES = 10  # the first files' symbols leave room for at least this many paths


def render_map(index: RepoIndex, ranked: Sequence[tuple[str, float]], query_text: str,
               budget: int, header: str = HEADER) -> str:
    """The map for ``ranked`` files within ``budget`` tokens; empty when nothing fits."""
    if budget <= 0 or not ranked:
        return ""
    query = Query.parse(query_text)
    parts = [header]
    used = estimate_tokens(header)
    for position, (path, _) in enumerate(ranked):
        reserve = sum(estimate_tokens(p + "\n") for p, _ in ranked[position + 1:MIN_FILES])
        room = budget - used - reserve
        block = _fitting_block(index, path, position, query, room) if room > 0 else None
        if block is None and reserve:  # the reserve is a wish, not a reason to drop this file
            block = _fitting_block(index, path, MIN_FILES, query, budget - used)
        if block is None:
            break
        parts.append(block)
        used += estimate_tokens(block)
    return "".join(parts) if len(parts) > 1 else ""


def _fitting_block(index: RepoIndex, path: str, position: int, query: Query,
                   room: int) -> str | None:
    """The file's block with as many symbols as its rank allows and the room holds."""
    symbols = _chosen(index.files[path].symbols, _allowance(position), query)
    while True:
        block = _block(path, symbols)
        if estimate_tokens(block) <= room:
            return block
        if not symbols:
            return None
        symbols = _chosen(symbols, len(symbols) // 2, query)


def _allowance(position: int) -> int:
    for last, count in _SYMBOLS_BY_RANK:
        if position < last:
            return count
    return 0


def _chosen(symbols: Sequence[Symbol], count: int, query: Query) -> list[Symbol]:
    """Up to ``count`` symbols, the ones the query names or shares words with first, then
    exported before local; shown in file order."""
    if count <= 0:
        return []
    def weight(s: Symbol) -> float:
        words = split_identifier(s.name)
        named = 2.0 if s.name in query.identifiers else 0.0
        shared = 1.0 if any(w in query.words for w in words) else 0.0
        public = 0.5 if s.exported or s.parent is not None else 0.0
        return named + shared + public - (0.25 if s.parent is not None else 0.0)
    best = sorted(symbols, key=lambda s: (-weight(s), s.line))[:count]
    return sorted(best, key=lambda s: s.line)


def _block(path: str, symbols: Sequence[Symbol]) -> str:
    lines = [path]
    shown = {s.name for s in symbols if s.parent is None}
    for s in symbols:
        if s.parent is None:
            lines.append(f"  {s.line}: {shorten(s.signature)}")
        elif s.parent in shown:
            lines.append(f"{_MEMBER_INDENT}{s.line}: {shorten(s.signature)}")
        else:  # a member whose class did not make the cut still says where it lives
            lines.append(f"  {s.line}: {s.parent}.{shorten(s.signature)}")
    return "\n".join(lines) + "\n"
