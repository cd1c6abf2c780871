"""One problem found in a config file, located by file, line and column."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

Path = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """``file:line:col: dotted.path: what is wrong — how to fix it``.

    ``line`` and ``col`` are 1-based; 0 means the problem concerns the file as a whole.
    """

    file: str
    line: int
    col: int
    path: Path
    message: str
    hint: str = ""
    severity: Severity = Severity.ERROR

    @property
    def dotted(self) -> str:
        return dotted(self.path)

    def format(self) -> str:
        where = self.file if self.line == 0 else f"{self.file}:{self.line}:{self.col}"
        level = "warning: " if self.severity is Severity.WARNING else ""
        subject = f"{self.dotted}: " if self.path else ""
        hint = f" — {self.hint}" if self.hint else ""
        return f"{where}: {level}{subject}{self.message}{hint}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.dotted,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def did_you_mean(word: str, choices: Iterable[str], *, listing: str = "valid") -> str:
    """A fix hint: the close matches when there are some, else the whole list."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(f"`{c}`" for c in close) + "?"
    return f"{listing}: " + ", ".join(options)
