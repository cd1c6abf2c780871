"""Ticket workspaces: the user's repository is never changed; refusals are clear."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import WorkspaceError
from harness.sandbox.base import Sandbox
from harness.sandbox.restore import restore
from harness.sandbox.workspace import create_workspace, remove_workspace
from tests.sandbox.conftest import CFG, git, make_repo

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


@pytest.mark.docker
def test_files_over_the_size_limit_are_never_read_by_host_git(open_sandbox: Open,
                                                              repo: Path) -> None:
    """A sparse file counts by its apparent size; git neither stages nor diffs it, and the
    diff says so (the note quotes a name that looks like a diff header)."""
    sandbox = open_sandbox(repo, CFG.model_copy(update={"max_file_size": 1 << 20}))
    done = sandbox.exec("truncate -s 3G sparse.bin && head -c 2M /dev/urandom > "
                        "'x\ndiff --git a' && echo small > small.txt && mkdir dist && "
                        "truncate -s 2M dist/ignored.bin")  # .gitignore: no news, no note
    assert done.ok, done.stderr
    started = time.monotonic()
    diff = sandbox.diff()
    assert time.monotonic() - started < 20  # reading 3 GiB of zeros took far longer
    note, _, patch = diff.partition("\n\n")
    assert "2 file(s) over sandbox.max_file_size (1 MiB)" in note
    assert '"sparse.bin"' in note
    assert '"x\\ndiff --git a"' in note
    assert patch.startswith("diff --git a/small.txt b/small.txt")
    assert patch.count("diff --git") == 1
    assert sandbox.changed_files() == ["small.txt"]
    assert "sparse.bin" not in git_in(sandbox, "ls-tree", "-r", "--name-only",
                                      sandbox.workspace.commit("c"))  # type: ignore[attr-defined]
    restore(sandbox, diff)  # a note before the patch is not a patch error
    assert sandbox.read_file("small.txt") == "small\n"


@pytest.mark.docker
def test_a_note_without_a_patch_restores_to_the_base(open_sandbox: Open, repo: Path) -> None:
    sandbox = open_sandbox(repo, CFG.model_copy(update={"max_file_size": 1 << 20}))
    assert sandbox.exec("truncate -s 2M big.bin").ok
    diff = sandbox.diff()
    assert diff.startswith("harness: 1 file(s)")
    assert "diff --git" not in diff
    restore(sandbox, diff)
    assert not sandbox.exists("big.bin")


@pytest.mark.docker
def test_many_nested_repositories_do_not_overflow_argv(open_sandbox: Open, repo: Path) -> None:
    """Each nested repository is one exclude pathspec: 12k with 200-character names are 2.5 MB,
    over what an argv may hold."""
    sandbox = open_sandbox(repo)
    make = ("import os\nfor i in range(12000):\n"
            "    d = 'n/%05d' % i + 'x' * 195\n"
            "    os.makedirs(d)\n    open(d + '/.git', 'w').close()\n")
    assert sandbox.exec(["python3", "-c", make], timeout=120).ok
    sandbox.write_file("kept.txt", "kept\n")
    assert sandbox.changed_files() == ["kept.txt"]


@pytest.mark.docker
@pytest.mark.parametrize("where", ["committed", "written in the sandbox"])
def test_a_working_tree_encoding_attribute_does_not_end_the_run(open_sandbox: Open,
                                                                tmp_path: Path,
                                                                where: str) -> None:
    """UTF-16 named for a file that is not valid in it: git's conversion would fail every
    checkout, add and diff. The private attributes unset it; files go in and out as bytes."""
    attrs = "*.txt working-tree-encoding=UTF-16\n"
    repo = make_repo(tmp_path / "enc", {"a.txt": "plain\n"})
    (repo / "b.txt").write_bytes(b"\xff\xfe\x00\xd8 lone surrogate")
    git(repo, "add", "b.txt")
    if where == "committed":  # after the files: git converts only what it adds
        (repo / ".gitattributes").write_text(attrs)
        git(repo, "add", ".gitattributes")
    git(repo, "commit", "-qm", "odd bytes")
    sandbox = open_sandbox(repo)
    assert sandbox.read_file("a.txt") == "plain\n"
    if where != "committed":
        sandbox.write_file(".gitattributes", attrs)
    assert sandbox.exec("printf '\\377\\376\\000\\330 new' > c.txt && echo more >> a.txt").ok
    assert set(sandbox.changed_files()) >= {"a.txt", "c.txt"}
    assert "+more" in sandbox.diff()


def git_in(sandbox: Sandbox, *args: str) -> str:
    return sandbox.workspace.git().run(*args)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.docker
def test_a_nested_repository_in_an_ignored_directory(open_sandbox: Open, repo: Path) -> None:
    """git add refuses an exclude pathspec that names an ignored path: such a repository (a
    git dependency under an ignored dist/ or node_modules/) is left to .gitignore."""
    sandbox = open_sandbox(repo, CFG.model_copy(update={"max_file_size": 1 << 20}))
    assert sandbox.exec("mkdir -p dist/dep/.git && truncate -s 2M dist/big.bin && "
                        "echo 1 > new.txt").ok
    assert sandbox.changed_files() == ["new.txt"]
    assert sandbox.diff().startswith("diff --git a/new.txt")


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
