"""The file listing applies the repository's .gitignore files though the checkout has no .git:
nested files, negations, rules above the listed directory, and hostile ignore files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from harness.sandbox.files import WorkspaceFiles


def tree(root: Path, files: dict[str, str]) -> WorkspaceFiles:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return WorkspaceFiles(root, None)


def test_ignored_files_and_directories_are_not_listed(tmp_path: Path) -> None:
    files = tree(tmp_path, {
        ".gitignore": "build/\n*.log\n!keep.log\ncoverage\n",
        "src/a.ts": "", "src/b.log": "", "src/keep.log": "", "build/out.js": "",
        "coverage/lcov.info": "", "packages/p/.gitignore": "gen/\n!src/gen.ts\n",
        "packages/p/gen/x.ts": "", "packages/p/src/gen.ts": "", "packages/p/src/i.ts": ""})
    assert sorted(files.listing()) == [
        ".gitignore", "packages/p/.gitignore", "packages/p/src/gen.ts", "packages/p/src/i.ts",
        "src/a.ts", "src/keep.log"]


def test_rules_above_the_listed_directory_apply(tmp_path: Path) -> None:
    files = tree(tmp_path, {".gitignore": "*.snap\n", "src/x.ts": "", "src/x.snap": "",
                            "src/deep/.gitignore": "!y.snap\n", "src/deep/y.snap": ""})
    assert sorted(files.listing("src")) == ["src/deep/.gitignore", "src/deep/y.snap", "src/x.ts"]


def test_a_gitignore_that_is_not_a_regular_file_is_skipped(tmp_path: Path) -> None:
    files = tree(tmp_path, {"a.ts": ""})
    os.mkfifo(tmp_path / ".gitignore")  # would block a reader that waited on it
    os.symlink("/etc/passwd", tmp_path / "sub.gitignore")
    (tmp_path / "sub").mkdir()
    os.symlink("/etc/passwd", tmp_path / "sub" / ".gitignore")
    (tmp_path / "sub" / "b.ts").write_text("")
    assert sorted(files.listing()) == [
        ".gitignore", "a.ts", "sub.gitignore", "sub/.gitignore", "sub/b.ts"]


def test_a_huge_or_garbled_gitignore_does_not_break_the_listing(tmp_path: Path) -> None:
    files = tree(tmp_path, {"a.ts": "", "b.ts": ""})
    (tmp_path / ".gitignore").write_bytes(b"\xff\xfe[\n" * 100_000 + b"b.ts\n")
    assert "a.ts" in files.listing()


def test_a_hostile_pattern_costs_linear_time(tmp_path: Path) -> None:
    """``*a*a…b`` translated to a regex backtracks for minutes on a long name (it did through
    pathspec here); the linear matcher answers at once."""
    name = "a" * 200
    files = tree(tmp_path, {".gitignore": "*a" * 40 + "b\n", name: ""})
    started = time.monotonic()
    assert sorted(files.listing()) == [".gitignore", name]
    assert time.monotonic() - started < 5
