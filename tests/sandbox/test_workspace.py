"""Ticket workspaces: the user's repository is never changed; refusals are clear."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import WorkspaceError
from harness.sandbox.base import Sandbox
from harness.sandbox.workspace import create_workspace, remove_workspace
from tests.sandbox.conftest import git, make_repo

Open = Callable[..., Sandbox]


def snapshot(repo: Path) -> dict[str, str]:
    """Every file of the repository, .git included, except git's worktree bookkeeping."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = [d for d in dirnames if not (d == "worktrees" and dirpath.endswith(".git"))]
        for name in filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(repo))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.mark.docker
def test_host_repo_unchanged_byte_for_byte(open_sandbox: Open, repo: Path) -> None:
    (repo / "src/app.js").write_text("// uncommitted edit\n")
    (repo / "notes.txt").write_text("untracked\n")
    git(repo, "add", "notes.txt")  # staged, too
    before, branch = snapshot(repo), git(repo, "branch", "--show-current")
    sandbox = open_sandbox(repo)
    sandbox.write_file("src/app.js", "changed in the sandbox\n")
    sandbox.exec("rm -rf test && touch new.txt && git config user.name x || true")
    sandbox.close()
    assert snapshot(repo) == before
    assert git(repo, "branch", "--show-current") == branch
    assert git(repo, "worktree", "list").count("\n") == 1


@pytest.mark.docker
def test_workspace_is_the_base_commit_without_uncommitted_work(open_sandbox: Open,
                                                                repo: Path) -> None:
    (repo / "src/app.js").write_text("// dirty\n")
    sandbox = open_sandbox(repo)
    assert sandbox.read_file("src/app.js").startswith("exports.greet")
    assert sandbox.diff() == ""


@pytest.mark.docker
def test_include_uncommitted_copies_the_dirty_state(open_sandbox: Open, repo: Path) -> None:
    (repo / "src/app.js").write_text("// dirty\n")
    (repo / "untracked.js").write_text("1;\n")
    (repo / "dist").mkdir()
    (repo / "dist/ignored.js").write_text("ignored\n")
    sandbox = open_sandbox(repo, include_uncommitted=True)
    assert sandbox.read_file("src/app.js") == "// dirty\n"
    assert sandbox.read_file("untracked.js") == "1;\n"
    assert "dist/ignored.js" not in sandbox.list_files()


@pytest.mark.docker
def test_base_ref(open_sandbox: Open, repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "src/app.js").write_text("// second\n")
    git(repo, "commit", "-qam", "second")
    sandbox = open_sandbox(repo, base=first)
    assert sandbox.read_file("src/app.js").startswith("exports.greet")
    assert sandbox.workspace.base_commit == first  # type: ignore[attr-defined]


@pytest.mark.parametrize(("setup", "message"), [
    ("plain-dir", "not a git repository"),
    ("missing", "no such directory"),
    ("no-commits", "has no commits yet"),
    ("bad-ref", "unknown ref `nope`"),
])
def test_refusals(tmp_path: Path, setup: str, message: str) -> None:
    repo = tmp_path / "r"
    base = "HEAD"
    if setup == "plain-dir":
        repo.mkdir()
    elif setup == "no-commits":
        repo.mkdir()
        git(repo, "init", "-q")
    elif setup == "bad-ref":
        make_repo(repo, {"a": "1"})
        base = "nope"
    with pytest.raises(WorkspaceError, match=message):
        create_workspace(repo, tmp_path / "ws", base=base)
    assert not (tmp_path / "ws").exists()


def test_include_uncommitted_with_another_base_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a": "1"})
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "a").write_text("2")
    git(repo, "commit", "-qam", "2")
    with pytest.raises(WorkspaceError, match="cannot be combined with --base"):
        create_workspace(repo, tmp_path / "ws", base=first, include_uncommitted=True)


def test_submodules_and_lfs_are_noted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        ".gitmodules": '[submodule "lib"]\n\tpath = lib\n\turl = ../lib\n',
        ".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n"})
    ws = create_workspace(repo, tmp_path / "ws")
    try:
        assert any("submodules" in n for n in ws.notes)
        assert any("LFS" in n for n in ws.notes)
    finally:
        remove_workspace(ws)
    assert not ws.path.exists()


@pytest.mark.parametrize("ignore", ["node_modules/\n", "node_modules\n", "", "!node_modules\n"])
def test_the_links_harness_makes_never_enter_the_diff(tmp_path: Path, ignore: str) -> None:
    """``node_modules/`` ignores directories only, and link_deps.py makes symlinks (into the
    dependency image's /deps): whatever the ignore rules, the diff is the change alone."""
    repo = make_repo(tmp_path / "repo", {".gitignore": ignore or "# none\n",
                                         "package.json": "{}\n",
                                         "packages/a/package.json": "{}\n",
                                         "packages/a/index.js": "module.exports = 1;\n"})
    ws = create_workspace(repo, tmp_path / "ws")
    try:
        for rel in ("node_modules", "packages/a/node_modules"):
            os.symlink(f"/deps/{rel}", ws.path / rel)  # dangling on the host, as in a run
        (ws.path / ".harness-restore.patch").write_text("left by a crash\n")
        assert ws.diff() == ""
        assert ws.changed_files() == []
        (ws.path / "packages/a/index.js").write_text("module.exports = 2;\n")
        (ws.path / "packages/a/own").mkdir()
        os.symlink("../index.js", ws.path / "packages/a/own/node_modules")  # the model's own
        own = [] if ignore == "node_modules\n" else ["packages/a/own/node_modules"]  # git's rule
        assert ws.changed_files() == ["packages/a/index.js", *own]
    finally:
        remove_workspace(ws)
