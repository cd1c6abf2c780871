"""The files a dependency build reads, always from git objects: a commit of the user's repository,
or a snapshot of a checkout's working state written to a private object store. A symlink is
then a blob holding its target, never the file it points to, so nothing outside the repository
(a committed ``package.json -> /home/me/.npmrc``) can reach the key or the build context."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from harness.errors import WorkspaceError
from harness.sandbox.hostgit import hardened_argv, minimal_env

SYMLINK_MODE = "120000"
# Git runs as HostGit runs it: repository-controlled programs off (hooks, fsmonitor, filters and
# textconv a config could name), no inherited GIT_* variable, no user or system config. The git
# directory is named, never discovered, so git's ownership check is left on.
_HOME = Path(os.devnull)


class SourceFiles(Protocol):
    def paths(self) -> list[Path]:
        """Every regular file (symlinks excluded), relative to the root."""
        ...

    def read_all(self, paths: list[str]) -> dict[str, bytes]: ...

    def archive(self, prefix: str, owner: tuple[int, int]) -> IO[bytes]:
        """The whole tree as a tar under ``prefix``, owned by ``owner``; symlinks stay links."""
        ...


@dataclass(frozen=True)
class Tree:
    """A tree-ish in a git directory: one ``ls-tree`` and one ``cat-file --batch`` for all."""

    git_dir: Path
    sha: str
    env: tuple[tuple[str, str], ...] = ()

    def paths(self) -> list[Path]:
        out = self._git("ls-tree", "-r", "-z", "--full-tree", self.sha)
        found = []
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            meta, _, path = entry.partition("\t")
            if path and meta.split(" ")[0] != SYMLINK_MODE and " blob " in f" {meta} ":
                found.append(Path(path))
        return found

    def read_all(self, paths: list[str]) -> dict[str, bytes]:
        if not paths:
            return {}
        request = "".join(f"{self.sha}:{p}\n" for p in paths).encode()
        out = self._git("cat-file", "--batch", stdin=request)
        blobs: dict[str, bytes] = {}
        pos = 0
        for path in paths:
            header_end = out.index(b"\n", pos)
            fields = out[pos:header_end].split()
            if len(fields) != 3:
                raise WorkspaceError(f"{self.git_dir}: cannot read {path} at {self.sha[:12]}: "
                                     f"{out[pos:header_end].decode(errors='replace')}")
            size = int(fields[2])
            blobs[path] = out[header_end + 1:header_end + 1 + size]
            pos = header_end + 1 + size + 1
        return blobs

    def archive(self, prefix: str, owner: tuple[int, int]) -> IO[bytes]:
        raw = self._git("archive", "--format=tar", f"--prefix={prefix.strip('/')}/", self.sha)
        return _owned(raw, owner)

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        env = minimal_env(_HOME) | dict(self.env)
        proc = subprocess.run(hardened_argv(args, git_dir=self.git_dir), input=stdin,
                              capture_output=True, check=False, env=env,
                              cwd=env.get("GIT_WORK_TREE"))
        if proc.returncode != 0:
            raise WorkspaceError(f"{self.git_dir}: git {args[0]} failed: "
                                 f"{proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout


def Commit(repo: Path, sha: str) -> Tree:
    """``sha`` of the repository whose working tree (or bare directory) is ``repo``."""
    return Tree(_git_dir(repo), sha)


@contextmanager
def snapshot(root: Path) -> Iterator[Tree]:
    """A checkout's files as they are now (tracked, and untracked but not ignored), hashed into
    a throwaway repository: what ``--include-uncommitted`` hands the dependency build."""
    with tempfile.TemporaryDirectory(prefix="harness-snapshot-") as tmp:
        git_dir = Path(tmp) / "git"
        empty = Tree(git_dir, "")
        empty._git("init", "-q", "--bare", str(git_dir))
        env = (("GIT_WORK_TREE", str(root.resolve())),
               ("GIT_INDEX_FILE", str(Path(tmp) / "index")))
        work = Tree(git_dir, "", env)
        work._git("add", "-A", "--", ".")
        yield Tree(git_dir, work._git("write-tree").decode().strip(), env)


def _git_dir(repo: Path) -> Path:
    try:
        proc = subprocess.run(hardened_argv(("rev-parse", "--absolute-git-dir")), cwd=repo,
                              capture_output=True, text=True, check=False, env=minimal_env(_HOME))
    except OSError as exc:  # no such directory
        raise WorkspaceError(f"{repo}: not a git repository ({exc.strerror})") from None
    if proc.returncode != 0:
        raise WorkspaceError(f"{repo}: not a git repository ({proc.stderr.strip()}) — pass "
                             "the repository's root")
    return Path(proc.stdout.strip())


def _owned(raw: bytes, owner: tuple[int, int]) -> IO[bytes]:
    """The same archive with every entry owned by ``owner``: the build runs as that user."""
    out = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - returned open
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as src, \
            tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as dst:
        for member in src:
            member.uid, member.gid = owner
            member.uname = member.gname = ""
            data = src.extractfile(member) if member.isfile() else None
            dst.addfile(member, data)
    out.seek(0)
    return out
