from pathlib import Path

import pytest

from harness.errors import WorkspaceError
from harness.sandbox.sources import Checkout, Commit
from tests.sandbox.conftest import git, make_repo

FILES = {"package.json": '{"name": "root"}\n', "packages/a/package.json": '{"name": "a"}\n',
         "packages/a/src/x.ts": "export const x = 1;\n", "empty.txt": ""}


def test_a_commit_reads_the_same_bytes_as_its_checkout(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    (repo / "package.json").write_text("dirty, not committed\n")  # the commit is what counts
    head = git(repo, "rev-parse", "HEAD").strip()
    commit = Commit(repo, head)
    assert sorted(map(str, commit.paths())) == sorted(FILES)
    assert commit.read_all(sorted(FILES)) == {k: v.encode() for k, v in sorted(FILES.items())}
    git(repo, "checkout", "-q", "--", "package.json")
    assert Checkout(repo).read_all(sorted(FILES)) == commit.read_all(sorted(FILES))


def test_a_checkout_lists_untracked_files_but_not_ignored_ones(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {".gitignore": "node_modules/\n", **FILES})
    (repo / "yarn.lock").write_text("# new\n")
    (repo / "node_modules" / "x").mkdir(parents=True)
    (repo / "node_modules" / "x" / "package.json").write_text("{}")
    names = set(map(str, Checkout(repo).paths()))
    assert "yarn.lock" in names
    assert not any(n.startswith("node_modules") for n in names)


def test_a_missing_path_or_commit_is_a_workspace_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    head = git(repo, "rev-parse", "HEAD").strip()
    with pytest.raises(WorkspaceError, match=r"cannot read nope\.json"):
        Commit(repo, head).read_all(["nope.json"])
    with pytest.raises(WorkspaceError, match="ls-tree failed"):
        Commit(repo, "0" * 40).paths()
