"""A ``Sandbox`` over a plain host directory: file tools are real filesystem calls (so every
error is the OS's own), commands are recorded and answered, not run. For tests of what sits on
top of the sandbox boundary without a container."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from harness.errors import SandboxError
from harness.sandbox.base import WORKDIR, ExecResult, Sandbox, SearchHit
from harness.vendors.types import EgressLink, EgressRoute


class DirSandbox(Sandbox):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.commands: list[tuple[str | Sequence[str], float | None]] = []

    def _path(self, path: str) -> Path:
        return self.root / path.removeprefix(WORKDIR).lstrip("/")

    def exec(self, cmd: str | Sequence[str], *, timeout: float | None = None,
             env: Mapping[str, str] | None = None, workdir: str = WORKDIR) -> ExecResult:
        self.commands.append((cmd, timeout))
        return ExecResult(0, "ran\n", "")

    def read_file(self, path: str) -> str:
        return self._path(path).read_text(encoding="utf-8")

    def write_file(self, path: str, content: str) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")

    def edit_file(self, path: str, old: str, new: str) -> None:
        text = self.read_file(path)
        if text.count(old) != 1:
            raise ValueError(f"{path}: old_string must occur exactly once")
        self.write_file(path, text.replace(old, new))

    def read_bytes(self, path: str) -> bytes:
        return self._path(path).read_bytes()

    def write_bytes(self, path: str, data: bytes) -> None:
        target = self._path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def remove_file(self, path: str) -> None:
        self._path(path).unlink()

    def list_files(self, path: str = ".", *, limit: int = 2000) -> list[str]:
        base = self._path(path)
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def search(self, pattern: str, path: str = ".", *, limit: int = 200,
               glob: str | None = None, context: int = 0,
               files_only: bool = False) -> list[SearchHit]:
        """Python's regex over every file, sorted by path as the real sandbox's search is."""
        hits = []
        for file in sorted(self._path(path).rglob("*")):
            rel = str(file.relative_to(self.root))
            if not file.is_file() or (glob and not fnmatch.fnmatch(file.name, glob)):
                continue
            lines = file.read_text(errors="replace").splitlines()
            found = [n for n, line in enumerate(lines, 1) if re.search(pattern, line)]
            if files_only and found:
                hits.append(SearchHit(rel, 0, ""))
                continue
            shown = sorted({k for n in found for k in range(n - context, n + context + 1)
                            if 1 <= k <= len(lines)})
            hits += [SearchHit(rel, k, lines[k - 1], context=k not in found) for k in shown]
        return hits[:limit]

    def exists(self, path: str) -> bool:
        return self._path(path).exists()

    def changed_files(self) -> list[str]:
        return []

    def diff(self) -> str:
        return ""

    def reset(self) -> None:
        return None

    @contextmanager
    def egress(self, route: EgressRoute) -> Iterator[EgressLink]:
        raise SandboxError("a directory has no way out: no CLI vendor runs here")
        yield  # pragma: no cover - a generator, for contextmanager

    def close(self) -> None:
        return None
