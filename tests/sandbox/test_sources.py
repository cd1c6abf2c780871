import os
import tarfile
from pathlib import Path

import pytest

from harness.errors import WorkspaceError
from harness.sandbox.sources import Commit, snapshot
from tests.sandbox.conftest import git, make_repo

FILES = {"package.json": '{"name": "root"}\n', "packages/a/package.json": '{"name": "a"}\n',
         "packages/a/src/x.ts": "export const x = 1;\n", "empty.txt": ""}


def test_a_commit_reads_the_same_bytes_as_a_snapshot_of_its_checkout(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    (repo / "package.json").write_text("dirty, not committed\n")  # the commit is what counts
    head = git(repo, "rev-parse", "HEAD").strip()
    commit = Commit(repo, head)
    assert sorted(map(str, commit.paths())) == sorted(FILES)
    assert commit.read_all(sorted(FILES)) == {k: v.encode() for k, v in sorted(FILES.items())}
    with snapshot(repo) as dirty:
        assert dirty.read_all(["package.json"]) == {"package.json": b"dirty, not committed\n"}
    git(repo, "checkout", "-q", "--", "package.json")
    with snapshot(repo) as clean:
        assert clean.read_all(sorted(FILES)) == commit.read_all(sorted(FILES))


def test_a_snapshot_lists_untracked_files_but_not_ignored_ones(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {".gitignore": "node_modules/\n", **FILES})
    (repo / "yarn.lock").write_text("# new\n")
    (repo / "node_modules" / "x").mkdir(parents=True)
    (repo / "node_modules" / "x" / "package.json").write_text("{}")
    with snapshot(repo) as tree:
        names = set(map(str, tree.paths()))
    assert "yarn.lock" in names
    assert not any(n.startswith("node_modules") for n in names)


def hostile(tmp_path: Path) -> tuple[Path, bytes]:
    """A repository whose package.json and lockfile are links to a host file outside it, and
    one of whose directories is a link to a host directory."""
    secret = tmp_path / "host" / "secret.json"
    secret.parent.mkdir()
    secret.write_text('{"token": "HOST-SECRET-0451"}\n')
    repo = make_repo(tmp_path / "r", {"README.md": "hi\n"})
    os.symlink(secret, repo / "package.json")
    os.symlink(secret, repo / "package-lock.json")
    os.symlink(secret.parent, repo / "packages")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "links")
    return repo, b"HOST-SECRET-0451"


def test_links_out_of_the_repository_are_never_followed(tmp_path: Path) -> None:
    repo, secret = hostile(tmp_path)
    (repo / "extra.lock").symlink_to(tmp_path / "host" / "secret.json")  # uncommitted, too
    with snapshot(repo) as dirty:
        sources = [Commit(repo, "HEAD"), dirty]
        for tree in sources:
            assert sorted(map(str, tree.paths())) == ["README.md"]  # links are not files
            with tarfile.open(fileobj=tree.archive("workspace", (1000, 1000))) as tar:
                members = {m.name: m for m in tar.getmembers()}
                blob = b"".join(tar.extractfile(m).read()  # type: ignore[union-attr]
                                for m in members.values() if m.isfile())
            assert secret not in blob
            assert members["workspace/package.json"].issym()
            assert members["workspace/packages"].issym()
            assert "workspace/packages/secret.json" not in members
            assert {(m.uid, m.gid) for m in members.values()} == {(1000, 1000)}
        with tarfile.open(fileobj=dirty.archive("workspace", (0, 0))) as tar:
            assert "workspace/extra.lock" in tar.getnames()


def test_a_missing_path_or_commit_is_a_workspace_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    head = git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(WorkspaceError, match=r"cannot read nope\.json"):
        Commit(repo, head).read_all(["nope.json"])
    with pytest.raises(WorkspaceError, match="ls-tree failed"):
        Commit(repo, "0" * 40).paths()
    with pytest.raises(WorkspaceError, match="not a git repository"):
        Commit(tmp_path, head)
    with pytest.raises(WorkspaceError, match="not a git repository"):
        Commit(tmp_path / "missing", head)


def test_the_callers_git_environment_and_the_repos_programs_are_ignored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An inherited GIT_DIR (as under `git rebase --exec`) would point every command at another
    repository; the repository's own config could name programs for git to run."""
    other = make_repo(tmp_path / "other", {"package.json": '{"name": "other"}\n'})
    repo = make_repo(tmp_path / "r", FILES)
    marker = tmp_path / "ran"
    (repo / ".git" / "hooks" / "post-checkout").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (repo / ".git" / "hooks" / "post-checkout").chmod(0o755)
    git(repo, "config", "core.fsmonitor", f"touch {marker}; echo")
    head = git(repo, "rev-parse", "HEAD").strip()
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    commit = Commit(repo, head)
    assert sorted(map(str, commit.paths())) == sorted(FILES)
    with snapshot(repo) as snap:
        assert snap.read_all(["package.json"]) == {"package.json": b'{"name": "root"}\n'}
    assert not marker.exists()
