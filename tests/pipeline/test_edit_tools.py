"""The edit tools as a real model meets them (issue 22): each mistake a model makes with a
search-and-replace edit gets either a tolerant match that keeps the file's own bytes, or an
error that says what to send instead — and the model recovers with what the error gave it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.pipeline.edit_tools import EditHistory
from harness.pipeline.tools import EDIT, READ_ONLY, run_tool
from harness.vendors.types import ToolCall, ToolResult
from tests.pipeline.dir_sandbox import DirSandbox

ALLOWED = {*READ_ONLY, *EDIT}


@pytest.fixture
def sandbox(tmp_path: Path) -> DirSandbox:
    (tmp_path / "w").mkdir()
    return DirSandbox(tmp_path / "w")


@pytest.fixture
def history() -> EditHistory:
    return EditHistory()


def tool(sb: DirSandbox, history: EditHistory, name: str, **arguments: Any) -> ToolResult:
    return run_tool(sb, ToolCall("t", name, arguments), ALLOWED, edits=history)


def put(sb: DirSandbox, path: str, data: bytes) -> Path:
    target = sb.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def test_an_lf_edit_of_a_crlf_file_keeps_crlf(sandbox: DirSandbox,
                                               history: EditHistory) -> None:
    f = put(sandbox, "a.ts", b"const a = 1;\r\nconst b = 2;\r\nconst c = 3;\r\n")
    result = tool(sandbox, history, "edit_file", path="a.ts",
                  old_string="const a = 1;\nconst b = 2;", new_string="const a = 1;\nconst b = 20;")
    assert not result.is_error, result.content
    assert f.read_bytes() == b"const a = 1;\r\nconst b = 20;\r\nconst c = 3;\r\n"
    assert "line endings" in result.content


def test_spaces_for_tabs_matches_and_writes_the_files_tabs(sandbox: DirSandbox,
                                                           history: EditHistory) -> None:
    f = put(sandbox, "a.ts", b"function f() {\n\tif (x) {\n\t\treturn 1;\n\t}\n}\n")
    result = tool(sandbox, history, "edit_file", path="a.ts",
                  old_string="    if (x) {\n        return 1;\n    }",
                  new_string="    if (x) {\n        log(x);\n        return 2;\n    }")
    assert not result.is_error, result.content
    assert f.read_bytes() == (b"function f() {\n\tif (x) {\n\t\tlog(x);\n\t\treturn 2;\n\t}\n}\n")
    assert "indentation" in result.content


def test_a_block_at_another_depth_takes_the_files_depth(sandbox: DirSandbox,
                                                        history: EditHistory) -> None:
    f = put(sandbox, "a.ts", b"class A {\n    m() {\n        return 1;\n    }\n}\n")
    result = tool(sandbox, history, "edit_file", path="a.ts",
                  old_string="m() {\n    return 1;\n}", new_string="m() {\n    return 2;\n}")
    assert not result.is_error, result.content
    assert f.read_bytes() == b"class A {\n    m() {\n        return 2;\n    }\n}\n"


def test_two_occurrences_name_their_lines_and_replace_all_takes_both(
        sandbox: DirSandbox, history: EditHistory) -> None:
    f = put(sandbox, "a.ts", b"x();\nfoo();\ny();\nz();\nfoo();\n")
    result = tool(sandbox, history, "edit_file", path="a.ts", old_string="foo();",
                  new_string="bar();")
    assert result.is_error
    assert "found 2 times, at lines 2, 5" in result.content
    assert "replace_all=true" in result.content
    wrong = tool(sandbox, history, "edit_file", path="a.ts", old_string="foo();",
                 new_string="bar();", expected_count=3)
    assert wrong.is_error
    assert "not the expected 3" in wrong.content
    ok = tool(sandbox, history, "edit_file", path="a.ts", old_string="foo();",
              new_string="bar();", replace_all=True)
    assert not ok.is_error
    assert f.read_bytes() == b"x();\nbar();\ny();\nz();\nbar();\n"


def test_bytes_that_are_not_utf8_elsewhere_in_the_file_survive(sandbox: DirSandbox,
                                                               history: EditHistory) -> None:
    f = put(sandbox, "a.js", b"// caf\xe9 latin-1\nconst a = 1;\n")
    assert not tool(sandbox, history, "edit_file", path="a.js", old_string="const a = 1;",
                    new_string="const a = 2;").is_error
    assert f.read_bytes() == b"// caf\xe9 latin-1\nconst a = 2;\n"


def test_a_miss_shows_the_closest_real_lines_and_the_model_recovers(
        sandbox: DirSandbox, history: EditHistory) -> None:
    body = "".join(f"const v{n} = {n};\n" for n in range(1, 60))
    body = body.replace("const v30 = 30;", "const v30 = compute(30, 'fast');")
    f = put(sandbox, "a.ts", body.encode())
    miss = tool(sandbox, history, "edit_file", path="a.ts",
                old_string='const v30 = compute(30, "fast");', new_string="const v30 = 0;")
    assert miss.is_error
    assert "    30\tconst v30 = compute(30, 'fast');" in miss.content
    # The model copies the line the error showed, without its number.
    copied = re.search(r"^\s+30\t(.*)$", miss.content, re.M)
    assert copied is not None
    ok = tool(sandbox, history, "edit_file", path="a.ts", old_string=copied.group(1),
              new_string="const v30 = 0;")
    assert not ok.is_error
    assert "const v30 = 0;\n" in f.read_text()
    # The answer shows the edit in place, numbered, with four lines either side.
    shown = [ln.split("\t")[0].strip() for ln in ok.content.splitlines()[1:]]
    assert shown == [str(n) for n in range(26, 35)]


def test_an_edit_that_breaks_the_syntax_is_refused_and_the_file_kept(
        sandbox: DirSandbox, history: EditHistory) -> None:
    f = put(sandbox, "src/a.ts", b"export function f(a: number) {\n  return g(a);\n}\n")
    before = f.read_bytes()
    result = tool(sandbox, history, "edit_file", path="src/a.ts", old_string="return g(a);",
                  new_string="return g(a;")
    assert result.is_error
    assert "syntax error (line 2" in result.content
    assert f.read_bytes() == before
    forced = tool(sandbox, history, "edit_file", path="src/a.ts", old_string="return g(a);",
                  new_string="return g(a;", allow_syntax_errors=True)
    assert not forced.is_error


def test_a_package_json_left_invalid_is_refused(sandbox: DirSandbox,
                                                history: EditHistory) -> None:
    put(sandbox, "package.json", b'{\n  "name": "x"\n}\n')
    result = tool(sandbox, history, "edit_file", path="package.json",
                  old_string='"name": "x"', new_string='"name": "x",')
    assert result.is_error
    assert "syntax error" in result.content


def test_syntax_the_parser_already_rejected_does_not_block_an_edit(
        sandbox: DirSandbox, history: EditHistory) -> None:
    # tree-sitter-typescript 0.23 reports an error on this valid TypeScript 5 line.
    put(sandbox, "index.ts", b'export type * from "./types";\nexport const a = 1;\n')
    assert not tool(sandbox, history, "edit_file", path="index.ts", old_string="a = 1",
                    new_string="a = 2").is_error


def test_a_multi_edit_applies_all_or_none(sandbox: DirSandbox, history: EditHistory) -> None:
    f = put(sandbox, "a.ts", b"const a = 1;\nconst b = 2;\n")
    bad = tool(sandbox, history, "multi_edit", path="a.ts", edits=[
        {"old_string": "a = 1", "new_string": "a = 10"},
        {"old_string": "c = 3", "new_string": "c = 30"}])
    assert bad.is_error
    assert "edit 2 of 2" in bad.content
    assert "No edit was applied" in bad.content
    assert f.read_bytes() == b"const a = 1;\nconst b = 2;\n"
    ok = tool(sandbox, history, "multi_edit", path="a.ts", edits=[
        {"old_string": "a = 1", "new_string": "a = 10"},
        {"old_string": "b = 2", "new_string": "b = 20"}])
    assert not ok.is_error, ok.content
    assert f.read_bytes() == b"const a = 10;\nconst b = 20;\n"


def test_undo_puts_back_the_last_change_and_deletes_a_created_file(
        sandbox: DirSandbox, history: EditHistory) -> None:
    f = put(sandbox, "a.ts", b"const a = 1;\r\n")
    tool(sandbox, history, "edit_file", path="a.ts", old_string="1", new_string="2")
    tool(sandbox, history, "edit_file", path="a.ts", old_string="2", new_string="3")
    assert not tool(sandbox, history, "undo_edit", path="a.ts").is_error
    assert f.read_bytes() == b"const a = 2;\r\n"
    assert not tool(sandbox, history, "undo_edit", path="/workspace/a.ts").is_error
    assert f.read_bytes() == b"const a = 1;\r\n"
    again = tool(sandbox, history, "undo_edit", path="a.ts")
    assert again.is_error
    assert "nothing to undo" in again.content
    tool(sandbox, history, "write_file", path="new/b.ts", content="export {};\n")
    assert (sandbox.root / "new" / "b.ts").exists()
    assert not tool(sandbox, history, "undo_edit", path="new/b.ts").is_error
    assert not (sandbox.root / "new" / "b.ts").exists()


def test_an_edit_that_changes_nothing_is_an_error(sandbox: DirSandbox,
                                                  history: EditHistory) -> None:
    put(sandbox, "a.ts", b"const a = 1;\n")
    result = tool(sandbox, history, "edit_file", path="a.ts", old_string="a = 1",
                  new_string="a = 1")
    assert result.is_error
    assert "change nothing" in result.content
