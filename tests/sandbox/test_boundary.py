"""The host trusts nothing the container writes: hostile fixtures planted from inside the
container, then every host-side operation that reads the workspace (diff, changed files, reset,
commit, the file tools). Nothing planted runs on the host, and the user's repository is
byte-identical."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.errors import PathOutsideWorkspaceError
from harness.sandbox.base import Sandbox
from harness.sandbox.files import READ_LIMIT
from harness.sandbox.workspace import create_workspace, remove_workspace
from tests.sandbox.conftest import git, make_repo

Open = Callable[..., Sandbox]


def digest(repo: Path) -> str:
    """Every byte of the repository: working tree, index, refs, reflog, config, hooks,
    objects."""
    h = hashlib.sha256()
    for path in sorted(p for p in repo.rglob("*") if p.is_file() or p.is_symlink()):
        data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        h.update(str(path.relative_to(repo)).encode() + b"\0" + data)
    return h.hexdigest()


@pytest.fixture
def marker() -> Iterator[Path]:
    """A host path that a planted command would create if the host ran it."""
    path = Path(f"/tmp/harness-pwned-{uuid.uuid4().hex}")
    yield path
    path.unlink(missing_ok=True)


def plant_repo_script(marker: Path) -> str:
    """Shell, run inside the container: replace /workspace/.git with a repository whose config
    and hooks run ``touch MARKER`` from every hook git offers, and do the same in a nested repo."""
    touch = f"touch {marker}"
    return f"""
set -e
rm -rf .git && git init -q . 2>/dev/null
for d in .git sub/.git; do
  mkdir -p "$(dirname "$d")"; [ -d "$d" ] || git init -q "$(dirname "$d")"
  g="git --git-dir=$d"
  $g config core.fsmonitor "{touch}-fsmonitor"
  $g config core.hooksPath "$PWD/$d/hooks"
  $g config diff.external "{touch}-extdiff"
  $g config filter.pwn.clean "{touch}-filter"
  $g config filter.pwn.smudge "{touch}-filter"
  $g config diff.pwn.textconv "{touch}-textconv"
  $g config core.pager "{touch}-pager"
  mkdir -p "$d/hooks"
  for hook in pre-commit post-checkout post-index-change reference-transaction; do
    printf '#!/bin/sh\\n{touch}-%s\\n' "$hook" > "$d/hooks/$hook"; chmod +x "$d/hooks/$hook"
  done
done
echo 'sub' > sub/file.txt
printf '* filter=pwn diff=pwn\\n' > .gitattributes
echo changed > src/app.js
"""


def host_operations(sandbox: Sandbox) -> None:
    sandbox.changed_files()
    sandbox.diff()
    sandbox.workspace.commit("planted")  # type: ignore[attr-defined]
    sandbox.reset()


@pytest.mark.docker
def test_a_planted_git_directory_runs_nothing_on_the_host(open_sandbox: Open, repo: Path,
                                                          marker: Path) -> None:
    before = digest(repo)
    sandbox = open_sandbox(repo)
    planted = sandbox.exec(plant_repo_script(marker))
    assert planted.ok, planted.stderr
    changed = sandbox.changed_files()
    assert "src/app.js" in changed
    assert not any(p == ".git" or p.startswith(".git/") for p in changed)
    assert ".git/config" not in sandbox.diff()
    host_operations(sandbox)
    sandbox.close()
    assert not list(Path("/tmp").glob(f"{marker.name}*")), "a planted command ran on the host"
    assert digest(repo) == before


@pytest.mark.docker
def test_a_git_pointer_at_the_users_repository_is_ignored(open_sandbox: Open, repo: Path,
                                                          marker: Path) -> None:
    (repo / "src/app.js").write_text("// the user's uncommitted work\n")
    git(repo, "stash", "list")
    before = digest(repo)
    sandbox = open_sandbox(repo)
    # What a hostile pretest script writes: git on the host would move the user's branch,
    # restage their index and rewrite their working tree if it followed this.
    pointer = f"gitdir: {repo / '.git'}\n"
    sandbox.exec(f"rm -rf .git; printf %s '{pointer}' > .git; echo new > new.txt; rm README.md "
                 "2>/dev/null; true")
    sandbox.write_file("sub/.git", pointer)
    host_operations(sandbox)
    sandbox.close()
    assert digest(repo) == before
    assert git(repo, "worktree", "list").count("\n") == 1


@pytest.mark.docker
def test_the_container_sees_no_git_pointer_to_the_host(sandbox: Sandbox) -> None:
    seen = sandbox.exec("ls -a /workspace; cat /workspace/.git 2>&1; git rev-parse --git-dir "
                        "2>&1; true")
    assert "gitdir:" not in seen.stdout
    assert "not a git repository" in seen.stdout


@pytest.mark.docker
def test_a_fifo_is_refused_not_waited_on(sandbox: Sandbox) -> None:
    assert sandbox.exec("mkfifo pipe").ok
    started = time.monotonic()
    with pytest.raises(ValueError, match="not a regular file"):
        sandbox.read_file("pipe")
    with pytest.raises(ValueError, match="not a regular file"):
        sandbox.write_file("pipe", "x")
    assert time.monotonic() - started < 5
    assert "pipe" in sandbox.list_files()


@pytest.mark.docker
def test_a_huge_file_is_read_only_up_to_the_limit(sandbox: Sandbox) -> None:
    assert sandbox.exec("truncate -s 1G big.bin && printf 'head' > big.txt && "
                        "truncate -s 1G big.txt").ok
    text = sandbox.read_file("big.txt")
    assert text.startswith("head")
    assert len(text) < READ_LIMIT + 500
    assert "the file is 1073741824 bytes" in text
    with pytest.raises(ValueError, match="over the"):
        sandbox.edit_file("big.txt", "head", "tail")


@pytest.mark.docker
def test_symlinks_resolve_inside_the_workspace_only(sandbox: Sandbox) -> None:
    made = sandbox.exec("ln -s /etc/passwd passwd && ln -s ../../../../etc etc && "
                        "ln -s /workspace/src abs-src && ln -s src rel-src && "
                        "ln -s /workspace/src/app.js app-link && ln -s loop loop")
    assert made.ok, made.stderr
    for outside in ("passwd", "etc/hostname", "etc"):
        with pytest.raises(PathOutsideWorkspaceError):
            sandbox.read_file(outside)
    with pytest.raises(PathOutsideWorkspaceError):
        sandbox.write_file("passwd", "pwned\n")
    assert sandbox.read_file("abs-src/app.js").startswith("exports.greet")
    assert sandbox.read_file("rel-src/app.js").startswith("exports.greet")
    sandbox.write_file("app-link", "via a link\n")  # writes the link's target, inside
    assert sandbox.read_file("src/app.js") == "via a link\n"
    with pytest.raises(OSError, match="symbolic links"):
        sandbox.read_file("loop")
    assert not sandbox.exists("loop/x")


@pytest.mark.docker
def test_written_files_and_directories_belong_to_the_container_user(sandbox: Sandbox) -> None:
    sandbox.write_file("deep/new/dir/file.txt", "x\n")
    owners = sandbox.exec("stat -c %u deep deep/new deep/new/dir deep/new/dir/file.txt")
    assert set(owners.stdout.split()) == {"1000"}
    sandbox.reset()
    assert sandbox.exec("echo again > src/app.js").ok  # still writable after a reset


def test_a_committed_gitattributes_symlink_to_dev_zero(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.txt": "1\n"})
    (repo / ".gitattributes").symlink_to("/dev/zero")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hostile attributes")
    started = time.monotonic()
    ws = create_workspace(repo, tmp_path / "run" / "workspace")
    try:
        assert time.monotonic() - started < 30
        assert os.readlink(ws.path / ".gitattributes") == "/dev/zero"
        assert ws.diff() == ""
    finally:
        remove_workspace(ws)


def test_concurrent_workspaces_on_one_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.txt": "1\n", "b/c.txt": "2\n"})
    before = digest(repo)
    errors: list[BaseException] = []

    def make(n: int) -> None:
        try:
            for k in range(2):
                ws = create_workspace(repo, tmp_path / f"run-{n}-{k}" / "workspace")
                (ws.path / "a.txt").write_text(f"changed by {n}\n")
                assert ws.changed_files() == ["a.txt"]
                remove_workspace(ws)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=make, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert digest(repo) == before
