"""Read a YAML config file into plain Python data plus the line and column of every node.

ruamel.yaml's round-trip loader keeps positions and refuses duplicate keys; this module turns each
way a file can be unreadable into one located, one-line ``Diagnostic`` instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from harness.config.diagnostics import Diagnostic, Path, Severity
from harness.errors import ConfigError

_BOMS = {b"\xef\xbb\xbf": "UTF-8", b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}


@dataclass(frozen=True)
class Document:
    """A parsed mapping with the 1-based (line, col) of each key and value, by path."""

    file: str
    data: dict[str, Any]
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: Path, *, key: bool = False) -> tuple[int, int]:
        """Where ``path`` is written; for an absent path, where its nearest parent's key is."""
        table = self.keys if key else self.values
        if path in table:
            return table[path]
        for depth in range(len(path) - 1, 0, -1):
            if path[:depth] in self.keys:
                return self.keys[path[:depth]]
        return (1, 1)

    def diag(self, path: Path, message: str, hint: str = "", *, key: bool = False,
             warning: bool = False) -> Diagnostic:
        line, col = self.locate(path, key=key)
        sev = Severity.WARNING if warning else Severity.ERROR
        return Diagnostic(self.file, line, col, path, message, hint, sev)


def read_document(path: FsPath, *, shown_as: str | None = None) -> Document:
    """Parse ``path``; raise ``ConfigError`` (one diagnostic) if it is not a readable mapping."""
    name = shown_as or str(path)
    text = _read_text(path, name)
    _refuse_tabs(text, name)
    try:
        root = YAML(typ="rt").load(text)
    except DuplicateKeyError as exc:
        raise ConfigError([_duplicate_key(exc, name)]) from None
    except MarkedYAMLError as exc:
        raise ConfigError([_syntax_error(exc, name)]) from None
    except YAMLError as exc:
        raise ConfigError([_whole_file(name, f"not valid YAML: {exc}", "fix the syntax")]) from None
    if root is None:
        raise ConfigError([_whole_file(name, "the file is empty",
                                       "start from the shipped stages.yaml")])
    if not isinstance(root, CommentedMap):
        kind = "a list" if isinstance(root, CommentedSeq) else f"a {type(root).__name__} value"
        raise ConfigError([Diagnostic(name, 1, 1, (), f"the file holds {kind}, not a mapping",
                                      "write one `stage: {...}` entry per stage at top level")])
    doc = Document(name, {})
    doc.data.update(_plain(root, (), doc))
    return doc


def _read_text(path: FsPath, name: str) -> str:
    if not path.exists():
        raise ConfigError([_whole_file(name, "no such file",
                                       "pass the config with -c PATH (default: ./stages.yaml)")])
    if path.is_dir():
        raise ConfigError([_whole_file(name, "is a directory, not a file",
                                       f"pass the file inside it, e.g. -c {path / 'stages.yaml'}")])
    raw = path.read_bytes()
    for bom, enc in _BOMS.items():
        if raw.startswith(bom):
            raise ConfigError([Diagnostic(name, 1, 1, (), f"the file starts with a {enc} "
                                          "byte-order mark", "save it as UTF-8 without a BOM")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([Diagnostic(name, line, 1, (), "the file is not valid UTF-8",
                                      "save it as UTF-8")]) from None


def _refuse_tabs(text: str, name: str) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            raise ConfigError([Diagnostic(name, number, indent.index("\t") + 1, (),
                                          "a tab in the indentation (YAML allows only spaces)",
                                          "indent with spaces")])


def _whole_file(name: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(name, 0, 0, (), message, hint)


def _syntax_error(exc: MarkedYAMLError, name: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    if "'\\t'" in what:
        return Diagnostic(name, line, col, (), "a tab where YAML allows only spaces",
                          "replace it with spaces")
    return Diagnostic(name, line, col, (), f"YAML syntax error: {what}",
                      "check the indentation and quoting on this line and the one above")


def _duplicate_key(exc: DuplicateKeyError, name: str) -> Diagnostic:
    mark, first = exc.problem_mark, exc.context_mark
    problem = str(exc.problem or "")
    key = problem.split('"')[1] if problem.count('"') >= 2 else "?"
    where = f" (the mapping starts at line {first.line + 1})" if first else ""
    return Diagnostic(name, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, (),
                      f"duplicate key `{key}`{where}", "keep one of them: YAML would silently "
                      "drop the other")


def _plain(node: Any, path: Path, doc: Document) -> Any:
    """Convert ruamel's nodes to plain Python, recording positions as we go."""
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            k = str(key)
            sub = (*path, k)
            try:
                kl, kc = node.lc.key(key)
                doc.keys[sub] = (kl + 1, kc + 1)
                vl, vc = node.lc.value(key)
                doc.values[sub] = (vl + 1, vc + 1)
            except (KeyError, TypeError):  # merged (<<) keys carry no own position
                pass
            out[k] = _plain(value, sub, doc)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for i, value in enumerate(node):
            try:
                line, col = node.lc.item(i)
                doc.values[(*path, i)] = doc.keys[(*path, i)] = (line + 1, col + 1)
            except (KeyError, TypeError):
                pass
            items.append(_plain(value, (*path, i), doc))
        return items
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node
