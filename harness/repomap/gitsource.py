"""A commit's files, read from the repository's object store: no checkout, no working tree.

``git ls-tree`` lists the commit's blobs with their ids (the cache key of everything derived from
a file); ``git cat-file --batch`` streams the contents of the few the cache does not know yet, in
one process for all of them.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import RepoMapError

# Only object-store plumbing runs (rev-parse, ls-tree, cat-file): nothing that reads the index
# or the working tree, and nothing in the repository's config may start a program.
_SAFE = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")
_FULL_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class Blob:
    path: str  # relative to the repository root, forward slashes
    oid: str
    size: int


def resolve_commit(repo: Path, ref: str) -> str:
    """The full commit id ``ref`` names in ``repo`` (a work tree or a bare git directory); a
    full id is taken as it is (``list_blobs`` fails on one that is not there)."""
    if _FULL_ID.fullmatch(ref):
        return ref
    out = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    commit = out.decode().strip()
    if not commit:
        raise RepoMapError(f"{repo}: `{ref}` names no commit — pass a branch, tag or commit id "
                           "that exists in this repository")
    return commit


def list_blobs(repo: Path, commit: str) -> list[Blob]:
    """Every regular file of the commit (symlinks and submodules are not source)."""
    out = _git(repo, "ls-tree", "-r", "-z", "--long", "--full-tree", commit)
    blobs: list[Blob] = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, oid, size = meta.split()
        if kind != b"blob" or mode not in (b"100644", b"100755"):
            continue
        if not size.isdigit():  # "BAD": the object is absent (a partial or trimmed mirror)
            continue
        blobs.append(Blob(raw_path.decode("utf-8", "surrogateescape"), oid.decode(),
                          int(size)))
    return blobs


def read_blobs(repo: Path, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """(oid, content) for each id, in order, through one ``git cat-file --batch``."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return
    # communicate() writes the ids while it reads the contents, so no batch size deadlocks.
    proc = subprocess.run(["git", *_SAFE, "-C", str(repo), "cat-file", "--batch"],
                          input="".join(f"{o}\n" for o in wanted).encode(),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise RepoMapError(f"{repo}: git cat-file failed: {_tail(proc.stderr)}")
    data, pos = proc.stdout, 0
    for oid in wanted:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        if len(header) != 3:  # "<oid> missing"
            raise RepoMapError(f"{repo}: object {oid} is missing from the object store — "
                               "the repository is incomplete (a shallow or partial clone?)")
        size = int(header[2])
        yield oid, data[end + 1:end + 1 + size]
        pos = end + 1 + size + 1  # content, then a newline


def _git(repo: Path, *args: str) -> bytes:
    try:
        proc = subprocess.run(["git", *_SAFE, "-C", str(repo), *args], capture_output=True,
                              check=False)
    except FileNotFoundError:
        raise RepoMapError("git is not installed: the repository map reads the commit with "
                           "git; install git") from None
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and proc.stderr.strip()):
        raise RepoMapError(f"{repo}: git {args[0]} failed: {_tail(proc.stderr)} — is it a git "
                           "repository?")
    return proc.stdout


def _tail(stderr: bytes) -> str:
    return stderr.decode(errors="replace").strip().splitlines()[-1:][0] if stderr.strip() else (
        "no message")
