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


# -- what the model sees of a file, a listing, a search (issue 22) ----------------------------

@pytest.fixture
def long_file(sandbox: DirSandbox) -> str:
    (sandbox.root / "src" / "long.ts").write_text(
        "".join(f"export const v{n} = {n};\n" for n in range(1, 1501)))
    return "src/long.ts"


def test_a_long_file_opens_on_a_numbered_window_that_says_where_it_continues(
        sandbox: DirSandbox, long_file: str) -> None:
    result = run_tool(sandbox, call("read_file", path=long_file), ALLOWED)
    assert not result.is_error
    lines = result.content.splitlines()
    assert lines[0] == "     1\texport const v1 = 1;"
    assert lines[-1] == "[lines 1-400 of 1500; read on with start_line=401]"


def test_the_middle_of_a_long_file_is_readable_by_range(sandbox: DirSandbox,
                                                        long_file: str) -> None:
    result = run_tool(sandbox, call("read_file", path=long_file, start_line=750,
                                    end_line=752), ALLOWED)
    assert result.content.splitlines() == [
        "   750\texport const v750 = 750;", "   751\texport const v751 = 751;",
        "   752\texport const v752 = 752;", "[lines 750-752 of 1500; read on with start_line=753]"]


def test_a_short_file_is_shown_whole_without_a_footer(sandbox: DirSandbox) -> None:
    result = run_tool(sandbox, call("read_file", path="src/a.txt"), ALLOWED)
    assert result.content == "     1\ta"


@pytest.mark.parametrize(("arguments", "says"), [
    ({"path": "src/a.txt", "lines": "1-5"}, "unknown argument(s) lines; read_file takes path, "
                                            "start_line, end_line"),
    ({"path": "src/a.txt", "start_line": "10"}, "argument start_line must be a integer"),
    ({"start_line": 1}, "missing required argument(s) path"),
    ({"path": "src/a.txt", "start_line": 5}, "start_line 5 is outside the file, which has 1 "
                                             "lines"),
])
def test_a_bad_read_is_an_error_that_says_what_to_change(sandbox: DirSandbox,
                                                         arguments: dict[str, Any],
                                                         says: str) -> None:
    result = run_tool(sandbox, call("read_file", **arguments), ALLOWED)
    assert result.is_error
    assert says in result.content


def test_a_float_line_number_from_a_protobuf_vendor_is_accepted(sandbox: DirSandbox,
                                                                long_file: str) -> None:
    result = run_tool(sandbox, call("read_file", path=long_file, start_line=2.0,
                                    end_line=2.0), ALLOWED)
    assert result.content.splitlines()[0] == "     2\texport const v2 = 2;"


def test_a_cut_listing_and_search_say_so_and_are_sorted(sandbox: DirSandbox) -> None:
    for n in range(600):
        (sandbox.root / "src" / f"f{n:03}.ts").write_text("needle\n")
    listing = run_tool(sandbox, call("list_files", path="src"), ALLOWED).content.splitlines()
    assert listing[0] == "src/a.txt"
    assert listing[-1].startswith("[first 500 files shown, more exist")
    found = run_tool(sandbox, call("search", pattern="needle"), ALLOWED).content.splitlines()
    assert found[:2] == ["src/f000.ts:1:needle", "src/f001.ts:1:needle"]
    assert found[-1].startswith("[first 200 lines shown, more exist")
    assert len(found) == 201


def test_search_by_glob_with_context_or_files_only(sandbox: DirSandbox) -> None:
    (sandbox.root / "src" / "m.ts").write_text("one\ntwo\nneedle\nfour\nfive\n")
    (sandbox.root / "src" / "m.test.ts").write_text("needle\n")
    (sandbox.root / "src" / "n.js").write_text("needle\n")
    by_glob = run_tool(sandbox, call("search", pattern="needle", glob="*.ts", context=1),
                       ALLOWED).content.splitlines()
    assert by_glob == ["src/m.test.ts:1:needle", "src/m.ts-2-two", "src/m.ts:3:needle",
                       "src/m.ts-4-four"]
    files = run_tool(sandbox, call("search", pattern="needle", files_only=True), ALLOWED)
    assert files.content.splitlines() == ["src/m.test.ts", "src/m.ts", "src/n.js"]
