"""Put a workspace in a recorded state: the base commit plus a recorded patch (what a CLI
session left, replayed). Only the sandbox boundary is used: reset, one file, one command."""

from __future__ import annotations

import re

from harness.errors import SandboxError
from harness.sandbox.base import WORKDIR, Sandbox

PATCH = ".harness-restore.patch"


def restore(sandbox: Sandbox, patch: str) -> None:
    """Discard the workspace's changes, then apply ``patch`` (``git diff --binary`` against the
    base). Applied from ``/`` in the container, where no repository is found: git applies it
    as a plain patch under /workspace."""
    sandbox.reset()
    if not re.search(r"^diff --git ", patch, re.M):  # empty, or only the diff's note
        return
    sandbox.write_file(PATCH, patch)
    try:
        done = sandbox.exec(["git", "apply", "--whitespace=nowarn", "-p1",
                             f"--directory={WORKDIR.strip('/')}", f"{WORKDIR}/{PATCH}"],
                            timeout=120, workdir="/")
    finally:
        sandbox.exec(["rm", "-f", "--", f"{WORKDIR}/{PATCH}"], timeout=60)
    if not done.ok:
        raise SandboxError(f"could not put the recorded workspace back ({done.summary()}): "
                           f"{done.stderr.strip()[-500:]}")
