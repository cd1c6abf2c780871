"""Every way a file can be unreadable is one located line, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.config.yamlsource import read_document
from harness.errors import ConfigError


def only(path: Path, shown: str = "f.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        read_document(path, shown_as=shown)
    assert len(info.value.diagnostics) == 1
    return info.value.diagnostics[0].format()


def test_positions_are_kept_for_keys_and_values(write: Callable[[str], Path]) -> None:
    doc = read_document(write("a:\n  b: 1\n  list:\n    - x\n    - y\n"))
    assert doc.data == {"a": {"b": 1, "list": ["x", "y"]}}
    assert doc.keys[("a", "b")] == (2, 3)
    assert doc.values[("a", "b")] == (2, 6)
    assert doc.values[("a", "list", 1)] == (5, 7)
    assert doc.locate(("a", "missing")) == (1, 1)


def test_missing_file(tmp_path: Path) -> None:
    assert only(tmp_path / "nope.yaml") == (
        "f.yaml: no such file — pass the config with -c PATH (default: ./stages.yaml)")


def test_directory_given_as_file(tmp_path: Path) -> None:
    assert only(tmp_path).startswith("f.yaml: is a directory, not a file — pass the file")


def test_empty_file_and_comment_only_file(write: Callable[[str], Path]) -> None:
    assert "the file is empty" in only(write(""))
    assert "the file is empty" in only(write("# nothing here\n"))


def test_not_a_mapping(write: Callable[[str], Path]) -> None:
    assert only(write("- planner\n- coder\n")).startswith(
        "f.yaml:1:1: the file holds a list, not a mapping")
    assert "holds a str value" in only(write("just words\n"))


def test_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfplanner: {}\n")
    assert only(path) == ("f.yaml:1:1: the file starts with a UTF-8 byte-order mark — save it "
                          "as UTF-8 without a BOM")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"planner:\n  model: caf\xe9\n")
    assert only(path).startswith("f.yaml:2:1: the file is not valid UTF-8")


def test_tab_in_indentation_names_line_and_column(write: Callable[[str], Path]) -> None:
    text = "planner:\n  vendor: anthropic\n\ttimeout: 300s\n"
    assert only(write(text)).startswith("f.yaml:3:1: a tab in the indentation")


def test_tab_inside_a_quoted_value_is_fine(write: Callable[[str], Path]) -> None:
    assert read_document(write('a: "x\ty"\n')).data["a"] == "x\ty"


def test_tab_before_a_comment_is_located(write: Callable[[str], Path]) -> None:
    assert only(write("a: b\nc: d\t# note\n")) == (
        "f.yaml:2:5: a tab where YAML allows only spaces — replace it with spaces")


def test_syntax_error_reports_its_line(write: Callable[[str], Path]) -> None:
    text = "planner:\n  vendor: anthropic\n  model: [opus\ncoder:\n  vendor: x\n"
    msg = only(write(text))
    assert msg.startswith("f.yaml:4:"), msg
    assert "YAML syntax error" in msg


def test_duplicate_key_reports_the_second_occurrence(write: Callable[[str], Path]) -> None:
    text = "coder:\n  timeout: 120s\n  vendor: anthropic\n  timeout: 300s\n"
    msg = only(write(text))
    assert msg.startswith("f.yaml:4:3: duplicate key `timeout`"), msg
    assert "the mapping starts at line 2" in msg
