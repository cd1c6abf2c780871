"""The tools that change files: ``edit_file``, ``multi_edit``, ``write_file``, ``undo_edit``.

Each one works on the file's bytes (``editing``), refuses a change that breaks the file's
syntax (``syntax``), answers with the changed lines numbered so the model sees what it did
(Anthropic's text editor tool returns the same snippet), and remembers what it replaced so
``undo_edit`` can put it back.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from harness.pipeline import editing
from harness.pipeline.syntax import refusal
from harness.sandbox.base import WORKDIR, Sandbox

UNDO_DEPTH = 10  # changes of one file that undo_edit can take back, newest first


@dataclass
class EditHistory:
    """What each file held before the attempt's last changes to it (None: it did not exist)."""

    before: dict[str, list[bytes | None]] = field(default_factory=dict)

    def remember(self, path: str, data: bytes | None) -> None:
        stack = self.before.setdefault(_key(path), [])
        stack.append(data)
        del stack[:-UNDO_DEPTH]

    def take_back(self, path: str) -> bytes | None:
        stack = self.before.get(_key(path))
        if not stack:
            raise ValueError(f"{path}: nothing to undo — no edit or write of this file in this "
                             "attempt (or all of them were undone already)")
        return stack.pop()


def _key(path: str) -> str:
    return str(PurePosixPath(path.removeprefix(WORKDIR).lstrip("/") or "."))


def edit(sb: Sandbox, a: Mapping[str, Any], history: EditHistory) -> str:
    path = str(a["path"])
    before = sb.read_bytes(path)
    applied = editing.apply(editing.decode(before), str(a["old_string"]),
                            str(a["new_string"]), replace_all=bool(a.get("replace_all")),
                            expected=_int(a.get("expected_count")))
    _commit(sb, path, before, applied.text, a, history=history)
    how = "" if applied.how == "exact" else (
        f"; old_string matched once its {applied.how} were made the file's own, and the new "
        "text was written in them")
    return (f"edited {path}: {applied.count} replacement(s){how}\n"
            f"{editing.snippet(applied.text, applied.regions)}")


def multi_edit(sb: Sandbox, a: Mapping[str, Any], history: EditHistory) -> str:
    """Several edits of one file, applied in order; all of them or none."""
    path = str(a["path"])
    edits: Sequence[Mapping[str, Any]] = a["edits"]
    if not isinstance(edits, list) or not edits:
        raise ValueError("edits must be a non-empty list of {old_string, new_string} objects")
    before = sb.read_bytes(path)
    text = editing.decode(before)
    for n, item in enumerate(edits, 1):
        try:
            text = editing.apply(text, str(item["old_string"]), str(item["new_string"]),
                                 replace_all=bool(item.get("replace_all"))).text
        except editing.EditError as exc:
            raise editing.EditError(f"edit {n} of {len(edits)}: {exc} No edit was applied."
                                    ) from None
    _commit(sb, path, before, text, a, history=history)
    regions = _changed(editing.decode(before), text)
    return f"edited {path}: {len(edits)} edits\n{editing.snippet(text, regions)}"


def write(sb: Sandbox, a: Mapping[str, Any], history: EditHistory) -> str:
    path = str(a["path"])
    before = sb.read_bytes(path) if sb.exists(path) else None
    _commit(sb, path, before, str(a["content"]), a, history=history)
    return f"wrote {path}" if before is None else f"overwrote {path}"


def undo(sb: Sandbox, a: Mapping[str, Any], history: EditHistory) -> str:
    path = str(a["path"])
    previous = history.take_back(path)
    if previous is None:
        sb.remove_file(path)
        return f"undid the creation of {path}: it no longer exists"
    sb.write_bytes(path, previous)
    lines = editing.decode(previous).splitlines()
    return f"restored {path} as it was before the last change ({len(lines)} lines)"


def _commit(sb: Sandbox, path: str, before: bytes | None, text: str, a: Mapping[str, Any], *,
            history: EditHistory) -> None:
    after = editing.encode(text)
    if not a.get("allow_syntax_errors"):
        why = refusal(path, before, after)
        if why is not None:
            raise ValueError(why)
    sb.write_bytes(path, after)
    history.remember(path, before)


def _changed(old: str, new: str) -> tuple[tuple[int, int], ...]:
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return tuple((j1 + 1, max(j2, j1 + 1)) for tag, _, _, j1, j2 in matcher.get_opcodes()
                 if tag != "equal")


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
