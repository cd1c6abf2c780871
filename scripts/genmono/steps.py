"""Side effects: writing the tree, the optional npm lockfile and the deterministic git commit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

GIT_IDENTITY = {
    f"GIT_{role}_{key}": value
    for role in ("AUTHOR", "COMMITTER")
    for key, value in (
        ("NAME", "gen-monorepo"),
        ("EMAIL", "gen-monorepo@example.invalid"),
        ("DATE", "2024-01-01T00:00:00+00:00"),
    )
}


def write_tree(out: Path, files: dict[str, str], force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not force:
            raise SystemExit(f"error: {out} is not empty (use --force to replace it)")
        shutil.rmtree(out)
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run `cmd` quietly and return its stdout; on failure show its output and stop."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"error: {' '.join(cmd)} exited with {result.returncode}")
    return result.stdout


def write_lockfile(out: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("error: --lockfile needs npm on PATH")
    run(
        [npm, "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
        out,
    )


def git_commit(out: Path, message: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_IDENTITY
    quiet = ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
    run(["git", "init", "-q", "-b", "main"], out, env)
    run(["git", "add", "-A"], out, env)
    run(["git", *quiet, "commit", "-q", "--no-verify", "-m", message], out, env)
    return run(["git", "rev-parse", "HEAD"], out, env).strip()
