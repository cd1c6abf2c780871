"""The stage tools: an ordinary bad call — a path through a file, a name too long, an entry that
exists, any other OS refusal — is an error result the model can correct, never an exception
that ends the run; and a command never outlives the attempt that runs it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from harness.pipeline.tools import COMMAND_TIMEOUT, EDIT, READ_ONLY, run_tool
from harness.vendors.types import ToolCall
from tests.pipeline.dir_sandbox import DirSandbox

ALLOWED = {*READ_ONLY, *EDIT}


@pytest.fixture
def sandbox(tmp_path: Path) -> DirSandbox:
    root = tmp_path / "workspace"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.txt").write_text("a\n")
    return DirSandbox(root)


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall("t1", name, arguments)


@pytest.mark.parametrize(("tool", "arguments", "reason"), [
    ("read_file", {"path": "src/a.txt/x"}, "Not a directory"),
    ("write_file", {"path": "src/a.txt/x", "content": "x"}, "File exists"),
    ("write_file", {"path": "src/" + "n" * 300 + ".txt", "content": "x"}, "File name too long"),
    ("edit_file", {"path": "src/" + "n" * 300, "old_string": "a", "new_string": "b"},
     "File name too long"),
])
def test_a_bad_path_is_an_error_result(sandbox: DirSandbox, tool: str,
                                       arguments: dict[str, Any], reason: str) -> None:
    result = run_tool(sandbox, call(tool, **arguments), ALLOWED)
    assert result.is_error
    assert result.content.startswith(f"{tool} failed: {reason}: src/")


def test_an_existing_entry_in_the_way_is_an_error_result(sandbox: DirSandbox) -> None:
    os.symlink("nowhere", sandbox.root / "gone")  # mkdir of gone/ finds it taken
    result = run_tool(sandbox, call("write_file", path="gone/x.txt", content="x"), ALLOWED)
    assert result.is_error
    assert "File exists: gone/x.txt" in result.content


def test_any_other_os_refusal_is_an_error_result(sandbox: DirSandbox) -> None:
    os.symlink("loop", sandbox.root / "loop")
    result = run_tool(sandbox, call("read_file", path="loop"), ALLOWED)
    assert result.is_error
    assert "Too many levels of symbolic links: loop" in result.content


def test_an_error_result_does_not_show_the_hosts_path(sandbox: DirSandbox) -> None:
    result = run_tool(sandbox, call("write_file", path="src/a.txt/x", content="x"), ALLOWED)
    assert str(sandbox.root) not in result.content


def test_a_command_is_cut_at_the_attempts_deadline(sandbox: DirSandbox) -> None:
    deadline = time.monotonic() + 20
    result = run_tool(sandbox, call("run_command", command="sleep 600", timeout_seconds=600),
                      ALLOWED, deadline=deadline)
    assert not result.is_error
    ((_, timeout),) = sandbox.commands
    assert timeout is not None
    assert 15 < timeout <= 20


def test_without_a_deadline_a_command_keeps_its_own_cap(sandbox: DirSandbox) -> None:
    run_tool(sandbox, call("run_command", command="sleep 600", timeout_seconds=600), ALLOWED)
    assert sandbox.commands == [("sleep 600", COMMAND_TIMEOUT)]


def test_no_command_starts_when_the_attempt_has_no_time_left(sandbox: DirSandbox) -> None:
    result = run_tool(sandbox, call("run_command", command="true"), ALLOWED,
                      deadline=time.monotonic() + 0.2)
    assert result.is_error
    assert "no time left" in result.content
    assert sandbox.commands == []
