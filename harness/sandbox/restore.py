"""Put a workspace in a recorded state: the base commit plus a recorded patch (what a CLI
session left, replayed). Only the sandbox boundary is used: reset, one file, one command."""

from __future__ import annotations

import re

from harness.errors import SandboxError
from harness.sandbox.base import WORKDIR, ExecResult, Sandbox

PATCH = ".harness-restore.patch"


def restore(sandbox: Sandbox, patch: str) -> None:
    """Discard the workspace's changes, then apply ``patch`` (``git diff --binary`` against the
    base)."""
    sandbox.reset()
    done = apply_patch(sandbox, patch)
    if done is not None and not done.ok:
        raise SandboxError(f"could not put the recorded workspace back ({done.summary()}): "
                           f"{done.stderr.strip()[-500:]}")


def apply_patch(sandbox: Sandbox, patch: str) -> ExecResult | None:
    """Apply ``patch`` to the workspace as it is, inside the container (a patch is data the
    host never applies); None when it holds no file diff. Applied from ``/``, where no
    repository is found: git applies it as a plain patch under /workspace."""
    if not re.search(r"^diff --git ", patch, re.M):  # empty, or only the diff's note
        return None
    sandbox.write_file(PATCH, patch)
    try:
        return sandbox.exec(["git", "apply", "--whitespace=nowarn", "-p1",
                             f"--directory={WORKDIR.strip('/')}", f"{WORKDIR}/{PATCH}"],
                            timeout=120, workdir="/")
    finally:
        sandbox.exec(["rm", "-f", "--", f"{WORKDIR}/{PATCH}"], timeout=60)
