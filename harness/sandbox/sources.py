"""Where the dependency key's files are read from: a checkout on disk, or a commit in a
repository's object store — the latter lets the dependency image be resolved while the ticket's
worktree is still being checked out."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.errors import WorkspaceError

_GIT = ["git", "-c", "safe.directory=*"]


class SourceFiles(Protocol):
    def paths(self) -> list[Path]:
        """Every file, relative to the root."""
        ...

    def read_all(self, paths: list[str]) -> dict[str, bytes]: ...


@dataclass(frozen=True)
class Checkout:
    """Files on disk. The listing comes from git (tracked, plus untracked files not ignored)
    when the root is a checkout: a walk of a 100k-file tree would dominate the sandbox's
    start-up."""

    root: Path

    def paths(self) -> list[Path]:
        proc = subprocess.run([*_GIT, "-C", str(self.root), "ls-files", "-z", "--cached",
                               "--others", "--exclude-standard"],
                              capture_output=True, check=False)
        if proc.returncode == 0:
            return [Path(p) for p in proc.stdout.decode().split("\0") if p]
        return [p.relative_to(self.root) for p in self.root.rglob("*")]

    def read_all(self, paths: list[str]) -> dict[str, bytes]:
        return {p: (self.root / p).read_bytes() for p in paths}


@dataclass(frozen=True)
class Commit:
    """Files as committed: one `git ls-tree` and one `git cat-file --batch` for all of them."""

    repo: Path
    sha: str

    def paths(self) -> list[Path]:
        out = self._git("ls-tree", "-r", "-z", "--name-only", self.sha)
        return [Path(p) for p in out.decode().split("\0") if p]

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
                raise WorkspaceError(f"{self.repo}: cannot read {path} at {self.sha[:12]}: "
                                     f"{out[pos:header_end].decode(errors='replace')}")
            size = int(fields[2])
            blobs[path] = out[header_end + 1:header_end + 1 + size]
            pos = header_end + 1 + size + 1
        return blobs

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        proc = subprocess.run([*_GIT, "-C", str(self.repo), *args], input=stdin,
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise WorkspaceError(f"{self.repo}: git {args[0]} failed: "
                                 f"{proc.stderr.decode(errors='replace').strip()}")
        return proc.stdout
