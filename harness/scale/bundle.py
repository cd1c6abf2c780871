"""How a ticket's repository reaches a Ray worker without a shared filesystem.

The driver packs the base commit as a git bundle (format v2) holding that one commit's snapshot:
the commit, its tree and blobs, without history — a ticket only ever diffs against its base, and
a SWE-bench batch has a different base per row, so full histories would be shipped again and
again. The bundle is addressed by the commit id. Each node unpacks it once into a shallow clone
under its work directory (``repos/<commit>``), where every later ticket on that commit finds it;
tickets check their worktrees out of that clone as they would out of the user's repository.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from harness.errors import WorkspaceError

BUNDLE_REF = "refs/heads/base"
_IDENTITY = ["-c", "user.name=harness", "-c", "user.email=harness@localhost"]


def pack_bundle(repo: Path, commit: str) -> bytes:
    """A bundle of ``commit``'s snapshot in ``repo`` (only read; no ref is added to it)."""
    objects = _git(repo, "rev-list", "--objects", "--no-walk", commit)
    pack = _git(repo, "pack-objects", "--stdout", "-q", stdin=objects)
    # The header git itself writes for a shallow repository's bundle: no prerequisites.
    return f"# v2 git bundle\n{commit} {BUNDLE_REF}\n\n".encode() + pack


def node_clone(work: Path, commit: str, fetch: Callable[[], bytes]) -> Path:
    """The node's clone of ``commit``, unpacked from ``fetch()`` the first time (one ticket
    unpacks while the others on this node wait on the lock)."""
    repos = work / "repos"
    repos.mkdir(parents=True, exist_ok=True)
    dest = repos / commit
    with (repos / f".{commit}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / ".git").is_dir():
            _unpack(fetch(), repos / f".tmp-{commit}-{uuid.uuid4().hex[:8]}", dest, commit)
    return dest


def _unpack(bundle: bytes, tmp: Path, dest: Path, commit: str) -> None:
    """Unpack in a scratch directory, then rename: a crash leaves no half clone at ``dest``."""
    try:
        _git(tmp.parent, "init", "-q", str(tmp))
        (tmp / ".git" / "shallow").write_text(commit + "\n")  # the parents are not shipped
        path = tmp / ".git" / "base.bundle"
        path.write_bytes(bundle)
        _git(tmp, "fetch", "-q", str(path), f"{BUNDLE_REF}:{BUNDLE_REF}")
        path.unlink()
        _git(tmp, "symbolic-ref", "HEAD", BUNDLE_REF)  # HEAD is the base, as in the user's repo
        got = _git(tmp, "rev-parse", "HEAD").decode().strip()
        if got != commit:
            raise WorkspaceError(f"bundle for {commit} unpacked as {got}")
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(["git", *_IDENTITY, *args], cwd=cwd, input=stdin,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise WorkspaceError(f"git {args[0]} in {cwd}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout
