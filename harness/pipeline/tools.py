"""The tools stages get, run against the ticket's sandbox. A tool never raises for a bad call:
the model gets an error result and can correct itself. A broken sandbox does raise."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from harness.errors import PathOutsideWorkspaceError
from harness.pipeline import edit_tools
from harness.pipeline.edit_tools import EditHistory
from harness.pipeline.views import argument_problem, capped, window
from harness.sandbox.base import Sandbox
from harness.vendors.types import ToolCall, ToolResult, ToolSpec

RESULT_LIMIT = 20_000  # characters of one tool result the model sees
COMMAND_TIMEOUT = 300.0
LIST_LIMIT = 500  # entries of one listing, unless the call asks for fewer
SEARCH_LIMIT = 200  # matching lines of one search
MAX_CONTEXT = 5  # lines of context a search may ask for around each match
MIN_COMMAND_SECONDS = 1.0  # below this, a command cannot start and return before the deadline


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required,
            "additionalProperties": False}


_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_EDIT_ITEM = _obj(["old_string", "new_string"], old_string=_STR, new_string=_STR,
                  replace_all=_BOOL)
_FORCE = "allow_syntax_errors"
_GUARD = (" A change that leaves a TS/JS/JSON file with a syntax error it did not have is "
          f"refused and the file kept; pass {_FORCE}=true only when the checker is wrong.")

SPECS: dict[str, ToolSpec] = {t.name: t for t in (
    ToolSpec("list_files", "List files under a directory of the repository (recursive, "
             f"sorted; at most `limit`, default and maximum {LIST_LIMIT}; a footer says when "
             "more exist).", _obj([], path=_STR, limit=_INT)),
    ToolSpec("read_file", "Read a file of the repository as numbered lines (the numbers are "
             "not part of the file). Without a range it shows the first 400 lines; a footer "
             "gives the range shown, the file's length and the start_line to read on with.",
             _obj(["path"], path=_STR, start_line=_INT, end_line=_INT)),
    ToolSpec("search", "Search the repository with a regular expression (ripgrep; the "
             "repository's ignore rules apply); matches as path:line:text, context lines as "
             f"path-line-text, sorted, at most {SEARCH_LIMIT} lines (a footer says when more "
             "exist). `glob` limits the files searched (e.g. *.ts, !*.test.ts); `context` "
             f"shows up to {MAX_CONTEXT} lines around each match; `files_only` lists the "
             "matching files.",
             _obj(["pattern"], pattern=_STR, path=_STR, glob=_STR, context=_INT,
                  files_only=_BOOL)),
    ToolSpec("write_file", "Create or overwrite a file with the given content." + _GUARD,
             _obj(["path", "content"], path=_STR, content=_STR, allow_syntax_errors=_BOOL)),
    ToolSpec("edit_file", "Replace old_string by new_string in a file. old_string must match "
             "once (or pass replace_all=true, or expected_count=N); it is matched exactly, "
             "then ignoring line endings, then ignoring each line's indentation (the new text "
             "takes the file's own). The answer shows the changed lines numbered; a failed "
             "match shows the closest real lines." + _GUARD,
             _obj(["path", "old_string", "new_string"], path=_STR, old_string=_STR,
                  new_string=_STR, replace_all=_BOOL, expected_count=_INT,
                  allow_syntax_errors=_BOOL)),
    ToolSpec("multi_edit", "Several edit_file replacements in one file, applied in order: all "
             "of them or none." + _GUARD,
             _obj(["path", "edits"], path=_STR, edits={"type": "array", "items": _EDIT_ITEM},
                  allow_syntax_errors=_BOOL)),
    ToolSpec("undo_edit", "Put a file back as it was before your last edit_file, multi_edit "
             "or write_file of it in this attempt (a file that write_file created is deleted).",
             _obj(["path"], path=_STR)),
    ToolSpec("run_command", "Run a shell command in the repository root (no network).",
             _obj(["command"], command=_STR, timeout_seconds=_INT)),
    ToolSpec("finish", "Say the work is done, with a one-paragraph summary.",
             _obj(["summary"], summary=_STR)),
    # Answered by the pipeline with its own test run and verdict (AttemptEnv.verify).
    ToolSpec("run_tests", "Run the ticket's tests as the harness will judge them and get its "
             "verdict: the failing tests, which of them already failed at the base commit, "
             "and whether the target tests pass. scope `affected` (default) runs the tests "
             "related to your changes, `full` the whole suite. Use it before `finish`.",
             _obj([], scope={"type": "string", "enum": ["affected", "full"]})),
    # Answered from the repository map of the base commit (harness.pipeline.repomap_tool).
    ToolSpec("repo_map", "The files and symbols of the repository (as of the base commit) "
             "most relevant to a query — words, identifiers or paths — ranked over the import "
             "graph, with line numbers and signatures; `budget` in tokens (default 1000).",
             _obj(["query"], query=_STR, budget=_INT)),
)}
REPO_MAP = "repo_map"
RUN_TESTS = "run_tests"
READ_ONLY = ("list_files", "read_file", "search")
EDIT = ("write_file", "edit_file", "multi_edit", "undo_edit", "run_command")
WRITES = ("write_file", "edit_file", "multi_edit", "undo_edit")  # the tools that change files


def terminal_spec(name: str, description: str, model: type[BaseModel]) -> ToolSpec:
    return ToolSpec(name, description, model.model_json_schema())


@dataclass(frozen=True)
class Toolbox:
    """The tools one stage may call, and the terminal one that ends its attempt."""

    specs: tuple[ToolSpec, ...]
    terminal: str

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.specs}

    @property
    def read_only(self) -> bool:
        """No tool of this stage changes files (a command still could: checked after)."""
        return not self.names & set(WRITES)


def toolbox(names: tuple[str, ...], terminal: ToolSpec) -> Toolbox:
    return Toolbox((*(SPECS[n] for n in names), terminal), terminal.name)


def run_tool(sandbox: Sandbox, call: ToolCall, allowed: set[str], *,
             deadline: float | None = None, edits: EditHistory | None = None) -> ToolResult:
    """Execute one non-terminal tool call; a command is cut at ``deadline`` (monotonic), the
    attempt's own end, when that comes before its cap. ``edits``: what the attempt's changes
    replaced, for ``undo_edit`` (none kept without it)."""
    if call.name not in allowed or call.name not in _HANDLERS:
        return ToolResult(call.id, f"unknown tool `{call.name}`; available: "
                          f"{', '.join(sorted(allowed))}", is_error=True)
    problem = argument_problem(SPECS[call.name], call.arguments)
    if problem is not None:
        return ToolResult(call.id, f"bad arguments for {call.name}: {problem}", is_error=True)
    left = COMMAND_TIMEOUT if deadline is None else deadline - time.monotonic()
    try:
        text = _HANDLERS[call.name](
            _Call(sandbox, call.arguments, left, edits if edits is not None else EditHistory()))
    except (KeyError, TypeError) as exc:
        return ToolResult(call.id, f"bad arguments for {call.name}: {exc}", is_error=True)
    except (ValueError, OSError) as exc:
        # OSError covers every ordinary bad path (a file used as a directory, a name too long,
        # an existing entry, no permission, outside the workspace); a broken sandbox raises
        # SandboxError instead, which ends the run.
        return ToolResult(call.id, f"{call.name} failed: {_reason(exc, call.arguments)}",
                          is_error=True)
    return ToolResult(call.id, _cap(text))


def _reason(exc: Exception, args: Mapping[str, Any]) -> str:
    """What was wrong, in the model's terms: the OS's reason and the path it gave (an errno's
    own message would show the host's path of the workspace)."""
    if isinstance(exc, OSError) and exc.strerror and not isinstance(
            exc, PathOutsideWorkspaceError):
        path = str(args.get("path", ""))
        return f"{exc.strerror}: {path[:300]}" if path else exc.strerror
    return str(exc)


def _cap(text: str) -> str:
    if len(text) <= RESULT_LIMIT:
        return text
    half = RESULT_LIMIT // 2
    return f"{text[:half]}\n[... {len(text) - RESULT_LIMIT} characters cut ...]\n{text[-half:]}"


@dataclass(frozen=True)
class _Call:
    sb: Sandbox
    args: Mapping[str, Any]
    left: float  # seconds until the attempt's deadline
    edits: EditHistory


def _list(c: _Call) -> str:
    sb, a = c.sb, c.args
    limit = max(1, min(int(a.get("limit") or LIST_LIMIT), LIST_LIMIT))
    files = sorted(sb.list_files(str(a.get("path") or "."), limit=limit + 1))
    return capped(files, limit, "files", "list a subdirectory, or search by name",
                  "(no files)")


def _read(c: _Call) -> str:
    sb, a = c.sb, c.args
    start, end = a.get("start_line"), a.get("end_line")
    return window(sb.read_file(str(a["path"])), None if start is None else int(start),
                  None if end is None else int(end))


def _search(c: _Call) -> str:
    a = c.args
    files_only = bool(a.get("files_only"))
    hits = c.sb.search(str(a["pattern"]), str(a.get("path") or "."), limit=SEARCH_LIMIT + 1,
                       glob=str(a["glob"]) if a.get("glob") else None,
                       context=max(0, min(int(a.get("context") or 0), MAX_CONTEXT)),
                       files_only=files_only)
    hits.sort(key=lambda h: (h.path, h.line))
    lines = [h.path if files_only else f"{h.path}{'-' if h.context else ':'}{h.line}"
             f"{'-' if h.context else ':'}{h.text}" for h in hits]
    return capped(lines, SEARCH_LIMIT, "files" if files_only else "lines",
                  "narrow the pattern, the path or the glob", "(no matches)")


def _run(c: _Call) -> str:
    sb, a, left = c.sb, c.args, c.left
    if left < MIN_COMMAND_SECONDS:
        raise ValueError("no time left in this attempt to run a command (the stage's timeout "
                         "is nearly up): finish now")
    timeout = min(float(a.get("timeout_seconds") or COMMAND_TIMEOUT), COMMAND_TIMEOUT, left)
    result = sb.exec(str(a["command"]), timeout=timeout)
    parts = [result.summary(), result.stdout, result.stderr]
    return "\n".join(p for p in parts if p)


_HANDLERS: dict[str, Callable[[_Call], str]] = {
    "list_files": _list, "read_file": _read, "search": _search, "run_command": _run,
    "write_file": lambda c: edit_tools.write(c.sb, c.args, c.edits),
    "edit_file": lambda c: edit_tools.edit(c.sb, c.args, c.edits),
    "multi_edit": lambda c: edit_tools.multi_edit(c.sb, c.args, c.edits),
    "undo_edit": lambda c: edit_tools.undo(c.sb, c.args, c.edits),
}


def describe(call: ToolCall) -> str:
    """A short line for the events log."""
    args = {k: (v if len(str(v)) < 80 else f"<{len(str(v))} chars>")
            for k, v in call.arguments.items()}
    return f"{call.name}({json.dumps(args)})"
