"""A ticket's workspace: the base commit checked out under the run directory, tracked by a
private git directory that the container never sees.

The tree at ``path`` is bind-mounted into the container, so everything in it is written by code
we do not trust (the repository's scripts, the model's commands). Host-side git therefore never
discovers a repository from it: every command names the private git directory and the work tree
explicitly (``HostGit``), reads no system or global config, and has every repository-controlled
behaviour that could run a program turned off. The workspace holds no ``.git`` of ours at all.

The user's repository is only read: its object store is an alternate of the private one, and
nothing is registered in it (no ``git worktree``), so its refs, reflog, index, stash, config,
hooks and object store are byte-identical after any run.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

import git

from harness.errors import WorkspaceError
from harness.sandbox.hostgit import HostGit

WORKSPACE_DIR = "workspace"  # the tree's name inside a run directory
DEPS_MOUNT = "/deps/"  # where a dependency image keeps node_modules (sandbox/link_deps.py)
LINKED_NAMES = frozenset({"node_modules"})  # what link_deps.py makes links named
HARNESS_FILES = (".harness-restore.patch",)  # restore.py's patch, if a crash left it
LARGE_REPO_FILES = 100_000
ATTRIBUTES_LIMIT = 1 << 20  # bytes of .gitattributes read for the notes
DEFAULT_MAX_FILE_SIZE = 16 << 20  # as SandboxConfig.max_file_size
PATHSPECS = "harness-pathspecs"  # in the private git directory: what `git add` stages
NOTE_PATHS = 20  # skipped paths named in a diff's note

P = ParamSpec("P")
R = TypeVar("R")
Quiesce = Callable[[], AbstractContextManager[object]]


def quiesced(method: Callable[Concatenate[Workspace, P], R]
             ) -> Callable[Concatenate[Workspace, P], R]:
    """Run a method that reads or writes the tree with git only while nothing else can touch
    the tree: git ``lstat``s a path and then ``open``s it, and a process swapping in a symlink
    to a host file between the two would put that host file in the diff."""
    def run(self: Workspace, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.quiesce():
            return method(self, *args, **kwargs)
    functools.update_wrapper(run, method)
    return run


@dataclass(frozen=True)
class Workspace:
    repo: Path  # the user's repository (read from, never changed)
    path: Path  # the tree mounted at /workspace
    base_commit: str
    notes: tuple[str, ...] = field(default=())
    # Stops everything that could write the tree for the length of a git read (the sandbox
    # freezes its container); a tree nothing else writes needs none.
    quiesce: Quiesce = field(default=nullcontext, compare=False, repr=False)
    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # larger files are never read by host git

    @property
    def git_dir(self) -> Path:
        """The private git directory, beside the tree and outside the mount."""
        return git_dir_of(self.path)

    def git(self) -> HostGit:
        return HostGit(self.git_dir, self.path)

    def stage_all(self) -> HostGit:
        """Stage the whole tree in the private index, but for ``_excludes``."""
        return self._stage(self._scan())

    def _scan(self) -> TreeScan:
        """What ``git add`` must leave out: but for what ``.gitignore`` leaves out anyway (an
        exclude naming an ignored path fails the add; a build's cache is no news)."""
        scan, g = scan_tree(self.path, self.max_file_size), self.git()
        return TreeScan(_not_ignored(g, scan.nested), _not_ignored(g, scan.large),
                        _not_ignored(g, harness_paths(self.path)))

    def _stage(self, scan: TreeScan) -> HostGit:
        """``git add -A`` with the pathspecs in a file: a tree can hold more nested
        repositories than an argv can list (120k raised E2BIG)."""
        g = self.git()
        specs = self.git_dir / PATHSPECS
        specs.write_bytes(b"".join(s.encode("utf-8", "surrogateescape") + b"\0"
                                   for s in (".", *_excludes(scan))))
        g.run("add", "-A", f"--pathspec-from-file={specs}", "--pathspec-file-nul")
        return g

    @quiesced
    def changed_files(self) -> list[str]:
        g = self.stage_all()
        return [p for p in g.run("diff", "--cached", "--name-only", "-z", self.base_commit,
                                 "--").split("\0") if p]

    @quiesced
    def diff(self) -> str:
        """Every change in the tree against the base commit, new files included, after a note
        naming the files left out for their size (text before the first ``diff --git``, which
        ``git apply`` skips)."""
        scan = self._scan()
        g = self._stage(scan)  # the private index: the user's is never touched
        patch = g.run("diff", "--cached", "--binary", self.base_commit, "--", limit=True)
        patch = patch + "\n" if patch and not patch.endswith("\n") else patch
        return skipped_note(scan.large, self.max_file_size) + patch

    @quiesced
    def reset(self, owner: tuple[int, int] | None = None) -> None:
        g = self.git()
        g.run("reset", "--hard", "-q", self.base_commit)
        g.run("clean", "-fdq")
        if owner is not None:  # files git rewrote as root must stay writable inside
            chown_tree(self.path, owner)

    @quiesced
    def commit(self, message: str) -> str:
        """Commit the tree in the private repository; the commit id."""
        g = self.stage_all()
        who = {"GIT_AUTHOR_NAME": "harness", "GIT_AUTHOR_EMAIL": "harness@localhost",
               "GIT_COMMITTER_NAME": "harness", "GIT_COMMITTER_EMAIL": "harness@localhost"}
        g.run("commit", "-q", "--no-verify", "--allow-empty", "-m", message, env=who)
        return g.run("rev-parse", "HEAD").strip()


@dataclass(frozen=True)
class TreeScan:
    nested: list[str]  # directories holding their own .git, relative to the tree
    large: list[str]  # regular files over the size limit (apparent size), relative
    ours: list[str] = field(default_factory=list)  # what harness put there (harness_paths)


def scan_tree(tree: Path, max_file_size: int) -> TreeScan:
    """One ``lstat`` walk of ``tree`` (never ``.gitattributes``, which the container writes):
    nested repositories, and files git must not read for their size."""
    scan = TreeScan([], [])
    for dirpath, dirnames, filenames, dirfd in os.fwalk(tree, follow_symlinks=False):
        rel = os.path.relpath(dirpath, tree)
        if dirpath != str(tree) and ".git" in (*dirnames, *filenames):
            scan.nested.append(rel)
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size > max_file_size:
                scan.large.append(os.path.normpath(os.path.join(rel, name)))
    return scan


def nested_repositories(tree: Path) -> list[str]:
    """Directories under ``tree`` (not itself) that hold a ``.git``, relative to it."""
    return scan_tree(tree, 1 << 62).nested


def _excludes(scan: TreeScan) -> list[str]:
    """Pathspecs ``git add`` leaves out: a nested repository (git would record it as a
    submodule, or refuse the whole add when it has no commit), a file over the size limit
    (git holds a file in memory to hash and diff it: a 2 GiB sparse one crashed it), and what
    harness itself put in the tree (``harness_paths``), whatever the ignore rules say."""
    return [f":(exclude,literal){p}" for p in (*scan.nested, *scan.large, *scan.ours)]


def _not_ignored(g: HostGit, paths: list[str]) -> list[str]:
    """``paths`` but those git ignores (``.gitignore``d and untracked), asked on stdin."""
    if not paths:
        return paths
    out = g.run("check-ignore", "-z", "--stdin", stdin="".join(p + "\0" for p in paths),
                ok=(0, 1))  # 1: none is ignored
    ignored = set(out.split("\0"))
    return [p for p in paths if p not in ignored]


def skipped_note(paths: list[str], limit: int) -> str:
    """Lines naming ``paths`` (quoted: a name may hold a newline or look like a diff header)."""
    if not paths:
        return ""
    named = ", ".join(json.dumps(p) for p in sorted(paths)[:NOTE_PATHS])
    more = f" and {len(paths) - NOTE_PATHS} more" if len(paths) > NOTE_PATHS else ""
    return (f"harness: {len(paths)} file(s) over sandbox.max_file_size ({limit >> 20} MiB) are "
            f"not in this diff (host git does not read them; they are still in the workspace; "
            f"raise the limit in stages.yaml to include them): {named}{more}\n\n")


def harness_paths(tree: Path) -> list[str]:
    """What harness itself added under ``tree``, relative to it: the node_modules links into a
    dependency image that link_deps.py makes in every workspace package (a ``node_modules/``
    ignore rule matches directories only, so git would add these symlinks), and restore.py's
    patch file. A link is recognised by its name and its target, not by the ignore rules: the
    diff is the change and nothing else. (A model that makes such a link itself only hides a
    dangling link from its own diff.)"""
    found = [name for name in HARNESS_FILES if os.path.lexists(tree / name)]
    for dirpath, dirnames, filenames, dirfd in os.fwalk(tree, follow_symlinks=False):
        for name in LINKED_NAMES.intersection((*dirnames, *filenames)):
            try:
                target = os.readlink(name, dir_fd=dirfd)
            except OSError:  # a real directory or file of that name: the repository's
                continue
            if target.startswith(DEPS_MOUNT):
                found.append(os.path.relpath(os.path.join(dirpath, name), tree))
        # a real node_modules holds the install's own links, never ours; .git holds nothing
        dirnames[:] = [d for d in dirnames if d not in LINKED_NAMES and d != ".git"]
    return found


def git_dir_of(tree: Path) -> Path:
    return tree.parent / f".{tree.name}.git"


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


def user_objects(repo_path: Path) -> Path:
    """The user's object store (the common one, for a linked worktree of theirs)."""
    common = Path(git.Repo(repo_path).git.rev_parse("--git-common-dir"))
    return ((common if common.is_absolute() else repo_path / common) / "objects").resolve()


def create_workspace(repo_path: Path, dest: Path, *, base: str = "HEAD",
                     include_uncommitted: bool = False,
                     owner: tuple[int, int] | None = None,
                     max_file_size: int = DEFAULT_MAX_FILE_SIZE) -> Workspace:
    """Check out ``base`` of ``repo_path`` at ``dest`` (absent, or an empty directory)."""
    repo = open_repo(repo_path)
    commit = resolve_base(repo, base)
    if include_uncommitted and commit != repo.head.commit.hexsha:
        raise WorkspaceError("--include-uncommitted copies changes made on top of HEAD; it "
                             f"cannot be combined with --base {base}")
    ws = Workspace(Path(repo.working_dir), dest, commit)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        g = HostGit.init(ws.git_dir, dest, alternate=user_objects(ws.repo))
        g.run("checkout", "-q", "-f", "--detach", commit)
        if include_uncommitted:
            _copy_uncommitted(repo, g)
        notes = _notes(g, commit)
        if owner is not None:
            chown_tree(dest, owner)
    except BaseException:
        remove_workspace(ws)
        raise
    return Workspace(ws.repo, dest, commit, notes, max_file_size=max_file_size)


def remove_workspace(ws: Workspace) -> None:
    """Delete the tree and its private git directory; safe to call twice."""
    discard(ws.path)


def discard(tree: Path) -> None:
    """Delete a workspace tree and its git directory (also for gc, without a Workspace)."""
    for path in (tree, git_dir_of(tree)):
        if path.exists() or path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def _copy_uncommitted(repo: git.Repo, g: HostGit) -> None:
    """Staged and unstaged changes to tracked files, and untracked files that are not ignored,
    from the user's checkout (theirs: trusted, unlike the workspace)."""
    patch = repo.git.diff("HEAD", "--binary")
    if patch:
        g.run("apply", "--binary", "--whitespace=nowarn", "-", stdin=patch + "\n")
    root = Path(repo.working_dir)
    for rel in repo.untracked_files:
        target = g.work_tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=False)


def _notes(g: HostGit, commit: str) -> tuple[str, ...]:
    """What the model should know about the checkout, read from the commit's objects (never
    through the tree: a committed .gitattributes may be a symlink to /dev/zero)."""
    notes = []
    paths = [p for p in g.run("ls-tree", "-r", "-z", "--name-only", commit).split("\0") if p]
    if ".gitmodules" in paths:
        notes.append("the repository has submodules; they are not checked out in the sandbox")
    if ".gitattributes" in paths and b"filter=lfs" in g.blob(commit, ".gitattributes",
                                                             ATTRIBUTES_LIMIT):
        notes.append("files tracked by Git LFS are pointer files in the sandbox")
    if len(paths) > LARGE_REPO_FILES:
        notes.append(f"{len(paths)} files: file listings are capped; prefer search")
    return tuple(notes)


def chown_tree(root: Path, owner: tuple[int, int]) -> None:
    """Give every entry under ``root`` to ``owner``, never following a symlink."""
    os.lchown(root, *owner)
    for _dirpath, dirnames, filenames, dirfd in os.fwalk(root, follow_symlinks=False):
        for name in (*dirnames, *filenames):
            try:
                os.chown(name, *owner, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
