"""Git's wildcard patterns (``*``, ``?``, ``[...]``, ``**/``), matched in linear time.

The patterns come from the repository's own .gitignore and .gitattributes, so they are hostile:
translated to a Python regex, ``*a*a*a*a*b`` against a long name backtracks for minutes. Here a
match walks the text once per token, keeping the set of positions reached (never revisiting one),
so a pattern of T tokens costs at most T passes over the path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STAR, _DSTAR, _DSTAR_SLASH, _ONE = "*", "**", "**/", "?"


@dataclass(frozen=True)
class Glob:
    tokens: tuple[str | re.Pattern[str], ...]  # a literal character, a wildcard, or a class

    @classmethod
    def compile(cls, pattern: str, prefix: str = "", anywhere: bool = False) -> Glob:
        """``prefix`` is matched literally first; ``anywhere``: the pattern may start in any
        directory below it (git's rule for a pattern without a slash)."""
        tokens: list[str | re.Pattern[str]] = list(prefix)
        if anywhere:
            tokens.append(_DSTAR_SLASH)
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                tokens.append(_DSTAR_SLASH)
                i += 3
            elif pattern.startswith("**", i):
                tokens.append(_DSTAR)
                i += 2
            elif pattern[i] in "*?":
                tokens.append(pattern[i])
                i += 1
            elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) > i:
                body = re.escape(pattern[i + 1:end]).replace("\\-", "-")
                body = "^" + body[1:] if body.startswith("!") else body
                tokens.append(re.compile(f"[{body}]"))
                i = end + 1
            else:
                tokens.append(pattern[i])
                i += 1
        return cls(tuple(tokens))

    def fullmatch(self, text: str) -> bool:
        n = len(text)
        reached = {0}
        for token in self.tokens:
            nxt: set[int] = set()
            if token == _DSTAR:
                nxt.update(range(min(reached), n + 1))
            elif token == _DSTAR_SLASH:
                start = min(reached)
                nxt.update(reached)
                nxt.update(k + 1 for k in range(start, n) if text[k] == "/")
            elif token == _STAR:
                for j in sorted(reached):
                    k = j
                    while k not in nxt:
                        nxt.add(k)
                        if k >= n or text[k] == "/":
                            break
                        k += 1
            else:
                for j in reached:
                    if j < n and text[j] != "/" if token == _ONE else j < n and (
                            text[j] == token if isinstance(token, str) else
                            text[j] != "/" and token.fullmatch(text[j]) is not None):
                        nxt.add(j + 1)
            if not nxt:
                return False
            reached = nxt
        return n in reached
