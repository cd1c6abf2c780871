"""A ticket's workspace: a git worktree of the base commit under the run directory.

The user's checkout, branch, index and uncommitted changes are never modified; git records the
worktree under the repository's .git/worktrees until ``remove`` (or ``harness gc``) prunes it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import git

from harness.errors import WorkspaceError

WORKSPACE_DIR = "workspace"  # the worktree's name inside a run directory
LARGE_REPO_FILES = 100_000
# Root on the host must be able to run git in a worktree owned by the container's user.
_SAFE = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}


@dataclass(frozen=True)
class Workspace:
    repo: Path  # the user's repository (read from, never changed)
    path: Path  # the worktree, mounted at /workspace
    base_commit: str
    notes: tuple[str, ...] = field(default=())
    repo_objects: Path | None = None  # the user's object store, read through as an alternate

    @property
    def objects(self) -> Path:
        """Objects the ticket writes (``git add`` for a diff, a commit) go here, in the run
        directory: the user's object store is only read."""
        return self.path.parent / f".{self.path.name}-objects"

    def git(self) -> git.Git:
        g = git.Git(self.path)
        g.update_environment(**_SAFE)
        if self.repo_objects is not None:
            self.objects.mkdir(exist_ok=True)
            g.update_environment(GIT_OBJECT_DIRECTORY=str(self.objects),
                                 GIT_ALTERNATE_OBJECT_DIRECTORIES=str(self.repo_objects))
        return g

    def publish_objects(self) -> None:
        """Copy the ticket's objects into the user's store (only for an opt-in branch)."""
        if self.repo_objects is None or not self.objects.is_dir():
            return
        for src in self.objects.rglob("*"):
            dest = self.repo_objects / src.relative_to(self.objects)
            if src.is_file() and not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)

    def changed_files(self) -> list[str]:
        g = self.git()
        g.add("-A")
        return [line for line in str(g.diff("--cached", "--name-only", self.base_commit))
                .splitlines() if line]

    def diff(self) -> str:
        """Every change in the worktree against the base commit, new files included."""
        g = self.git()
        g.add("-A")  # the worktree's own index, not the user's
        patch = str(g.diff("--cached", "--binary", self.base_commit))
        return patch + "\n" if patch else patch  # git's own output ends with one; apply needs it

    def reset(self) -> None:
        g = self.git()
        g.reset("--hard", "-q", self.base_commit)
        g.clean("-fdq")


def open_repo(repo_path: Path) -> git.Repo:
    if not repo_path.exists():
        raise WorkspaceError(f"{repo_path}: no such directory — pass --repo the repository root")
    try:
        repo = git.Repo(repo_path, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise WorkspaceError(f"{repo_path}: not a git repository — run `git init` and commit, "
                             "or pass --repo the repository's root") from None
    if repo.bare:
        raise WorkspaceError(f"{repo_path}: a bare repository has no files to work on — "
                             "pass a clone with a working tree")
    return repo


def resolve_base(repo: git.Repo, ref: str) -> str:
    try:
        return str(repo.commit(ref).hexsha)
    except (git.BadName, ValueError):
        if not repo.head.is_valid():
            raise WorkspaceError(f"{repo.working_dir}: the repository has no commits yet — "
                                 "commit the code the ticket is about first") from None
        raise WorkspaceError(f"unknown ref `{ref}` in {repo.working_dir} — pass a branch, tag "
                             "or commit that `git rev-parse` knows") from None


def create_workspace(repo_path: Path, dest: Path, *, base: str = "HEAD",
                     include_uncommitted: bool = False,
                     owner: tuple[int, int] | None = None) -> Workspace:
    """Check out ``base`` of ``repo_path`` at ``dest`` (which must not exist)."""
    repo = open_repo(repo_path)
    commit = resolve_base(repo, base)
    if include_uncommitted and commit != repo.head.commit.hexsha:
        raise WorkspaceError("--include-uncommitted copies changes made on top of HEAD; it "
                             f"cannot be combined with --base {base}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    repo.git.worktree("add", "--detach", str(dest), commit)
    objects = Path(repo.git.rev_parse("--git-common-dir"))
    objects = (objects if objects.is_absolute() else Path(repo.working_dir) / objects) / "objects"
    ws = Workspace(Path(repo.working_dir), dest, commit, repo_objects=objects.resolve())
    try:
        if include_uncommitted:
            _copy_uncommitted(repo, dest)
        notes = _notes(dest)
        if owner is not None:
            _chown_tree(dest, owner)
    except BaseException:
        remove_workspace(ws)
        raise
    return Workspace(ws.repo, dest, commit, notes, ws.repo_objects)


def remove_workspace(ws: Workspace) -> None:
    """Delete the worktree and prune git's record of it; safe to call twice."""
    if ws.path.exists():
        shutil.rmtree(ws.path, ignore_errors=True)
    shutil.rmtree(ws.objects, ignore_errors=True)
    try:
        repo = git.Repo(ws.repo)
        repo.git.worktree("prune")
    except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError):
        pass


def _copy_uncommitted(repo: git.Repo, dest: Path) -> None:
    """Staged and unstaged changes to tracked files, and untracked files that are not ignored."""
    patch = repo.git.diff("HEAD", "--binary")
    if patch:
        with tempfile.NamedTemporaryFile("w", suffix=".patch", delete=False) as f:
            f.write(patch + "\n")
        try:
            g = git.Git(dest)
            g.update_environment(**_SAFE)
            g.apply("--binary", "--whitespace=nowarn", f.name)
        finally:
            os.unlink(f.name)
    root = Path(repo.working_dir)
    for rel in repo.untracked_files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=False)


def _notes(dest: Path) -> tuple[str, ...]:
    notes = []
    if (dest / ".gitmodules").exists():
        notes.append("the repository has submodules; they are not checked out in the sandbox")
    attrs = dest / ".gitattributes"
    if attrs.exists() and "filter=lfs" in attrs.read_text(errors="replace"):
        notes.append("files tracked by Git LFS are pointer files in the sandbox")
    count = sum(len(files) for _, _, files in os.walk(dest))
    if count > LARGE_REPO_FILES:
        notes.append(f"{count} files: file listings are capped; prefer search")
    return tuple(notes)


def _chown_tree(root: Path, owner: tuple[int, int]) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        os.lchown(dirpath, *owner)
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), *owner)
