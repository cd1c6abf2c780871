"""``--commit-branch``: a ticket's commit, from its private repository into the user's, by git.

Objects cross as a pack that git itself writes (``pack-objects`` in the private repository) and
reads (``index-pack --strict`` in the user's), so an object git kept in a pack — any file over
``core.bigFileThreshold`` is streamed straight into one — crosses like any other. The branch is
created only after the user's repository is shown to hold every object the commit reaches
(``rev-list --objects --missing=error``, git's own check after a fetch), and only when it does
not exist yet. Every command is the hardened one (``hostgit``): no hooks, no fsmonitor, no
transport, no system or global config.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import WorkspaceError
from harness.sandbox.hostgit import GIT_TIMEOUT, hardened_argv, minimal_env
from harness.sandbox.workspace import Workspace

LIMIT_KEY = "sandbox.commit_branch_max_file_mb"  # where the user raises the cap


class PublishRefused(WorkspaceError):
    """The result cannot become a branch of the user's repository; nothing was written there."""


@dataclass(frozen=True)
class Oversize:
    path: str
    size: int


def publish_branch(ws: Workspace, commit: str, branch: str, *, max_file_bytes: int) -> None:
    """Point a new branch ``branch`` of the user's repository at ``commit`` of the private one,
    copying the objects it needs first. Refuses an existing branch and a commit that brings in a
    file over ``max_file_bytes``, before anything is written to the user's repository."""
    user = user_git_dir(ws.repo)
    ref = f"refs/heads/{branch}"
    _run(user, "check-ref-format", ref, what=f"`{branch}` is not a valid branch name")
    if _ref_exists(user, ref):
        raise PublishRefused(f"branch `{branch}` already exists in {ws.repo}; the result is in "
                             "the run's final.diff — pass another --commit-branch name")
    big = oversized(ws, commit, max_file_bytes)
    if big:
        raise PublishRefused(
            f"the result holds {big[0].path!r} ({big[0].size:,} bytes), over the "
            f"{max_file_bytes:,}-byte limit for --commit-branch"
            + (f" (and {len(big) - 1} more)" if len(big) > 1 else "")
            + f"; branch `{branch}` was not created (the result is in the run's final.diff) "
            f"— raise `{LIMIT_KEY}` in the stages file to publish it")
    _copy_pack(ws, user, commit)
    _run(user, "rev-list", "--objects", "--missing=error", "--quiet", commit, "--not", "--all",
         what=f"{ws.repo} does not hold every object of the result after copying it; branch "
              f"`{branch}` was not created")
    _run(user, "update-ref", "-m", f"harness: --commit-branch {branch}", ref, commit, "",
         what=f"branch `{branch}` could not be created in {ws.repo}")


def oversized(ws: Workspace, commit: str, max_file_bytes: int) -> list[Oversize]:
    """Files the commit brings in (objects its base does not reach) over the limit."""
    listed = _run(ws.git_dir, "rev-list", "--objects", commit, "--not", ws.base_commit)
    checked = _run(ws.git_dir, "cat-file",
                   "--batch-check=%(objecttype) %(objectsize) %(rest)", stdin=listed.encode())
    found = []
    for line in checked.splitlines():
        kind, size, path = [*line.split(" ", 2), ""][:3]
        if kind == "blob" and int(size) > max_file_bytes:
            found.append(Oversize(path, int(size)))
    return found


def user_git_dir(repo: Path) -> Path:
    """The user's common git directory (the one holding refs/heads and objects, also for a
    linked worktree of theirs)."""
    out = _run(None, "rev-parse", "--path-format=absolute", "--git-common-dir", cwd=repo)
    return Path(out.strip())


def _ref_exists(git_dir: Path, ref: str) -> bool:
    argv = hardened_argv(("rev-parse", "--verify", "--quiet", ref), git_dir=git_dir)
    proc = subprocess.run(argv, env=minimal_env(git_dir), capture_output=True,
                          timeout=GIT_TIMEOUT, check=False)
    return proc.returncode == 0


def _copy_pack(ws: Workspace, user: Path, commit: str) -> None:
    """The commit's new objects as one pack, from the private store into the user's."""
    send = hardened_argv(("pack-objects", "--stdout", "--revs", "-q"), git_dir=ws.git_dir)
    take = hardened_argv(("index-pack", "--stdin", "--strict"), git_dir=user)
    with subprocess.Popen(send, env=minimal_env(ws.git_dir), stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as packer:
        assert packer.stdin is not None
        packer.stdin.write(f"{commit}\n^{ws.base_commit}\n".encode())
        packer.stdin.close()
        try:
            taken = subprocess.run(take, env=minimal_env(user), stdin=packer.stdout,
                                   capture_output=True, timeout=GIT_TIMEOUT, check=False)
            sent_err = packer.stderr.read() if packer.stderr else b""
            packer.wait(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            packer.kill()
            raise WorkspaceError(f"copying the result's objects into {ws.repo} took over "
                                 f"{GIT_TIMEOUT:.0f}s and was stopped") from None
    if packer.returncode != 0 or taken.returncode != 0:
        why = (sent_err or taken.stderr).decode(errors="replace")[-800:]
        raise WorkspaceError(f"copying the result's objects into {ws.repo} failed: {why}")


def _run(git_dir: Path | None, *args: str, stdin: bytes | None = None,
         cwd: Path | None = None, what: str = "") -> str:
    argv = hardened_argv(args, git_dir=git_dir)
    try:
        proc = subprocess.run(argv, cwd=cwd, env=minimal_env(git_dir or cwd or Path("/")),
                              input=stdin, capture_output=True, timeout=GIT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise WorkspaceError(f"git {args[0]} took over {GIT_TIMEOUT:.0f}s and was stopped"
                             ) from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")[-800:].strip()
        head = what or f"git {' '.join(args[:3])} failed (exit {proc.returncode})"
        raise WorkspaceError(f"{head}: {err}" if err else head)
    return proc.stdout.decode("utf-8", "surrogateescape")
