"""``--commit-branch`` publishing: the user's repository stays whole (``git fsck --full``) whatever
store the result's objects were in, an existing branch and an oversized file are refused before
anything is written there, and the user's repository config runs no program meanwhile."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.errors import WorkspaceError
from harness.sandbox.publish import LIMIT_KEY, PublishRefused, publish_branch
from harness.sandbox.workspace import Workspace, create_workspace
from tests.sandbox.conftest import git, make_repo

MiB = 1 << 20


def _fsck(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), "fsck", "--full", "--strict"],
                          capture_output=True, text=True, check=False)


def _store(repo: Path) -> list[str]:
    """Every file of the user's object store and refs, by name."""
    return sorted(str(p.relative_to(repo)) for p in (repo / ".git").rglob("*") if p.is_file())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n", "src/x.js": "x\n"})
    return create_workspace(repo, tmp_path / "run" / "workspace")


def test_a_file_git_packed_reaches_the_users_store(ws: Workspace) -> None:
    # git add streams a file over core.bigFileThreshold straight into a pack: the copy of loose
    # objects that published before left that blob behind (fsck: "missing blob").
    ws.git().run("config", "core.bigFileThreshold", "1k")
    big = bytes(range(256)) * 64
    (ws.path / "big.bin").write_bytes(big)
    (ws.path / "src" / "x.js").write_text("y\n")
    sha = ws.commit("T: big")
    assert list((ws.git_dir / "objects" / "pack").glob("*.pack")), "the fixture packs nothing"
    publish_branch(ws, sha, "harness/T", max_file_bytes=MiB)
    fsck = _fsck(ws.repo)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    assert git(ws.repo, "rev-parse", "harness/T").strip() == sha
    shown = subprocess.run(["git", "-C", str(ws.repo), "show", "harness/T:big.bin"],
                           capture_output=True, check=True).stdout
    assert shown == big
    assert git(ws.repo, "branch", "--show-current").strip() == "main"


def test_an_existing_branch_is_refused_before_any_write(ws: Workspace) -> None:
    git(ws.repo, "branch", "taken")
    before = _store(ws.repo)
    (ws.path / "new.txt").write_text("n\n")
    sha = ws.commit("T")
    with pytest.raises(PublishRefused, match="branch `taken` already exists"):
        publish_branch(ws, sha, "taken", max_file_bytes=MiB)
    assert _store(ws.repo) == before
    assert git(ws.repo, "rev-parse", "taken") == git(ws.repo, "rev-parse", "main")


def test_a_file_over_the_limit_is_refused_naming_it_and_the_key(ws: Workspace) -> None:
    before = _store(ws.repo)
    (ws.path / "dist").mkdir()
    (ws.path / "dist" / "huge.bin").write_bytes(b"\0" * (2 * MiB))
    sha = ws.commit("T")
    with pytest.raises(PublishRefused) as refused:
        publish_branch(ws, sha, "harness/T", max_file_bytes=MiB)
    message = str(refused.value)
    for part in ("dist/huge.bin", f"{2 * MiB:,} bytes", LIMIT_KEY, "was not created"):
        assert part in message
    assert _store(ws.repo) == before


def test_an_invalid_branch_name_is_refused(ws: Workspace) -> None:
    sha = ws.commit("T")
    with pytest.raises(WorkspaceError, match="not a valid branch name"):
        publish_branch(ws, sha, "bad..name", max_file_bytes=MiB)


def test_the_users_repository_config_runs_no_program(ws: Workspace, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hook = tmp_path / "hooks"
    hook.mkdir()
    script = f"#!/bin/sh\ntouch {marker}\n"
    for name in ("reference-transaction", "post-index-change"):
        (hook / name).write_text(script)
        (hook / name).chmod(0o755)
    (tmp_path / "fsmon").write_text(script)
    (tmp_path / "fsmon").chmod(0o755)
    git(ws.repo, "config", "core.hooksPath", str(hook))
    git(ws.repo, "config", "core.fsmonitor", str(tmp_path / "fsmon"))
    marker.unlink(missing_ok=True)
    (ws.path / "n.txt").write_text("n\n")
    publish_branch(ws, ws.commit("T"), "harness/T", max_file_bytes=MiB)
    assert not marker.exists()
    assert _fsck(ws.repo).returncode == 0
