"""File tools that work on the bind-mounted worktree from the host side: no process is started
in the container per call. Every path is confined to the worktree (symlinks that leave it are
refused), and files written are owned by the container's user so its commands can change them."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import PathOutsideWorkspaceError
from harness.sandbox.base import WORKDIR

SKIP_DIRS = frozenset({".git", "node_modules", ".hg", ".svn", "dist", ".turbo", ".nx"})


class WorkspaceFiles:
    def __init__(self, root: Path, owner: tuple[int, int] | None) -> None:
        self.root = root.resolve()
        self.owner = owner  # (uid, gid) to chown new files to, when the host runs as root

    def resolve(self, path: str) -> Path:
        """The real host path for a workspace path (absolute /workspace/... or relative)."""
        if path.startswith("/") and path != WORKDIR and not path.startswith(WORKDIR + "/"):
            raise PathOutsideWorkspaceError(f"{path}: outside the workspace — use a path under "
                                            f"{WORKDIR}, or one relative to it")
        rel = path.removeprefix(WORKDIR).lstrip("/") or "."
        real = (self.root / rel).resolve()
        if real != self.root and self.root not in real.parents:
            raise PathOutsideWorkspaceError(f"{path}: outside the workspace — use a path under "
                                            "/workspace (symlinks may not leave it)")
        return real

    def read(self, path: str) -> str:
        return self.resolve(path).read_text("utf-8", errors="replace")

    def write(self, path: str, content: str) -> None:
        target = self.resolve(path)
        created = self._make_parents(target.parent)
        target.write_text(content, "utf-8")
        self._own([*created, target])

    def edit(self, path: str, old: str, new: str) -> None:
        text = self.read(path)
        count = text.count(old) if old else 0
        if count != 1:
            where = "not found" if count == 0 else f"found {count} times"
            raise ValueError(f"{path}: old_string {where} — it must match exactly once; "
                             "include more surrounding lines to make it unique")
        self.resolve(path).write_text(text.replace(old, new, 1), "utf-8")

    def listing(self, path: str = ".", limit: int = 2000) -> list[str]:
        base = self.resolve(path)
        if base.is_file():
            return [str(base.relative_to(self.root))]
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            rel = Path(dirpath).relative_to(self.root)
            out.extend(str(rel / f) if str(rel) != "." else f for f in sorted(filenames))
            if len(out) >= limit:
                return out[:limit]
        return out

    def _make_parents(self, directory: Path) -> list[Path]:
        missing = []
        while not directory.exists():
            missing.append(directory)
            directory = directory.parent
        for d in reversed(missing):
            d.mkdir()
        return missing

    def _own(self, paths: list[Path]) -> None:
        if self.owner is None:
            return
        for p in paths:
            os.chown(p, *self.owner, follow_symlinks=False)
