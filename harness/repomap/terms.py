"""Words for lexical matching between a ticket and code, and a token estimate for budgets.

Code and prose meet at the sub-word: ``ssrRenderAttrs``, ``ssr_render_attrs`` and "render the
attributes" share ``render`` and ``attr``. Identifiers are split at case changes, underscores,
dashes and digits, lowercased and lightly stemmed; a multi-part identifier also counts whole, so
naming it exactly weighs more than sharing its parts.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_KEBAB = re.compile(r"(?<![\w-])[a-z][a-z0-9]*(?:-[a-z0-9]+)+(?![\w-])")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_PIECE = re.compile(r"[A-Za-z]+|\d+|\n|[^\sA-Za-z\d]")
# Prose words that say nothing about where code lives; IDF would weigh most of them down
# anyway, but a short ticket has few words and each one counts.
STOPWORDS = frozenset(" ".join((
    "a an and are as at be been but by can could do does doesn don for from had has have how if",
    "in into is it its it's may might more most must no not of on or our out over same should so",
    "some such than that the their them then there these they this those to too under up use",
    "used uses using was we were what when where which while who why will with without would",
    "you your also only just like get gets got make makes made now new fix fixes fixed fixing",
    "issue bug close closes closed resolve resolves see pr instead case cases correct",
    "correctly properly work works working wrong after before because being both each other",
)).split())


@lru_cache(maxsize=200_000)
def split_identifier(ident: str) -> tuple[str, ...]:
    """``parseHTTPResponse2`` -> (parse, http, respons, 2): lowercased, stemmed parts, without
    stop words; the whole identifier too when it has more than one part."""
    parts = [p.lower() for p in _PART.findall(ident)]
    words = [stem(p) for p in parts if len(p) > 1 and p not in STOPWORDS]
    if len(parts) > 1:
        words.append(ident.lower())
    return tuple(words)


def stem(word: str) -> str:
    """A light suffix stripper (plurals, -ing, -ed, a final e): enough to meet "handles",
    "handled", "handling" and ``handle`` at one word without a dictionary."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("es") and w[-3] in "sxz":
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            w = w[:-len(suffix)]
            if len(w) > 2 and w[-1] == w[-2] and w[-1] not in "ls":  # stopped -> stop
                w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def terms(text: str) -> list[str]:
    """The words of a text, repeated as often as they occur; a kebab-case name
    (``server-renderer``, how packages and directories are named) also counts whole."""
    out: list[str] = []
    for ident in _IDENT.findall(text):
        out.extend(split_identifier(ident))
    out.extend(_KEBAB.findall(text))
    return out


def term_counts(text: str) -> Counter[str]:
    """``Counter(terms(text))``, computed per distinct identifier (code repeats them a lot)."""
    counts: Counter[str] = Counter(_KEBAB.findall(text))
    for ident, n in Counter(_IDENT.findall(text)).items():
        for word in split_identifier(ident):
            counts[word] += n
    return counts


def path_terms(path: str) -> list[str]:
    """A path's words, extensions dropped: ``server-renderer`` whole and split."""
    out: list[str] = []
    for segment in path.split("/"):
        pieces = segment.split(".")
        for piece in pieces[:-1] if len(pieces) > 1 else pieces:
            words = terms(piece)
            if len(words) > 1 and "_" in piece:
                out.append(piece.lower())
            out.extend(words)
    return out


def estimate_tokens(text: str) -> int:
    """Tokens a model's tokenizer is likely to make of ``text``, erring high: a word costs one
    token per four letters, a number one per three digits, every other character one. The
    vendors' tokenizers are not available offline; budgets only need a safe upper estimate."""
    total = 0
    for piece in _PIECE.findall(text):
        c = piece[0]
        if c.isalpha():
            total += (len(piece) + 3) // 4
        elif c.isdigit():
            total += (len(piece) + 2) // 3
        else:
            total += 1
    return total
