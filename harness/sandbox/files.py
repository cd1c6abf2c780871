"""File tools that work on the bind-mounted workspace from the host side: no process is started
in the container per call.

The tree is written by code we do not trust, so paths are resolved the way ``openat2`` with
``RESOLVE_IN_ROOT`` would: one component at a time from a directory descriptor, never following
a symlink the kernel could swap in between a check and a use (``O_NOFOLLOW`` everywhere), with
symlinks expanded by us and refused when they leave the workspace. Only regular files are read
or written (a FIFO would block, a device would never end), and at most ``READ_LIMIT`` bytes are
read. Files written are owned by the container's user so its commands can change them.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from harness.errors import PathOutsideWorkspaceError
from harness.sandbox.base import WORKDIR
from harness.sandbox.ignores import IGNORE_FILE, IGNORE_LIMIT, Ignores

SKIP_DIRS = frozenset({".git", "node_modules", ".hg", ".svn", "dist", ".turbo", ".nx"})
READ_LIMIT = 4 << 20  # bytes read of one file; a larger one is read up to here
MAX_HOPS = 40  # symlinks followed in one path, as the kernel allows
_DIR = os.O_DIRECTORY | os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_WRITE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class WorkspaceFiles:
    def __init__(self, root: Path, owner: tuple[int, int] | None) -> None:
        self.root = root.resolve()
        self.owner = owner  # (uid, gid) to chown new files to, when the host runs as root

    def resolve(self, path: str) -> Path:
        """The host path for a workspace path (absolute /workspace/... or relative), after
        checking that it and every symlink on the way stay in the workspace. For messages and
        checks: open files through the methods below, never through this path."""
        parts = _parts(path)
        with self._locate(parts, follow_last=True):
            pass
        return self.root.joinpath(*parts)

    def read(self, path: str, limit: int = READ_LIMIT) -> str:
        """The file's text (undecodable bytes replaced); a file over ``limit`` bytes is read to
        there and a note says so."""
        data, size = self._read_bytes(path, limit)
        text = data.decode("utf-8", errors="replace")
        if size > limit:
            text += (f"\n[... the file is {size} bytes; read_file shows the first {limit} — "
                     "use run_command with head, tail or sed for the rest ...]\n")
        return text

    def write(self, path: str, content: str) -> None:
        self.write_bytes(path, content.encode("utf-8"))

    def read_bytes(self, path: str) -> bytes:
        """The whole file; a file over ``READ_LIMIT`` is refused rather than cut (an edit of
        a cut file would drop its end)."""
        data, size = self._read_bytes(path, READ_LIMIT)
        if size > READ_LIMIT:
            raise ValueError(f"{path}: {size} bytes, over the {READ_LIMIT}-byte limit of the "
                             "file tools — change it with run_command (e.g. sed)")
        return data

    def remove(self, path: str) -> None:
        with self._locate(_parts(path), follow_last=False) as (dirfd, name):
            found = _lstat(name, dirfd)
            if found is None:
                raise FileNotFoundError(errno.ENOENT, "no such file", path)
            if not (stat.S_ISREG(found.st_mode) or stat.S_ISLNK(found.st_mode)):
                raise _not_regular(path, found)
            os.unlink(name, dir_fd=dirfd)

    def write_bytes(self, path: str, data: bytes) -> None:
        with self._locate(_parts(path), follow_last=True, create_dirs=True) as (dirfd, name):
            existed = _lstat(name, dirfd)
            if existed is not None and not stat.S_ISREG(existed.st_mode):
                raise _not_regular(path, existed)
            fd = os.open(name, _WRITE, 0o644, dir_fd=dirfd)
            try:
                _require_regular(fd, path)
                if existed is None and self.owner is not None:
                    os.fchown(fd, *self.owner)
                _write_all(fd, data)
            finally:
                os.close(fd)

    def edit(self, path: str, old: str, new: str) -> None:
        data, size = self._read_bytes(path, READ_LIMIT)
        if size > READ_LIMIT:
            raise ValueError(f"{path}: {size} bytes, over the {READ_LIMIT}-byte limit of "
                             "edit_file — change it with run_command (e.g. sed)")
        text = data.decode("utf-8", errors="replace")
        count = text.count(old) if old else 0
        if count != 1:
            where = "not found" if count == 0 else f"found {count} times"
            raise ValueError(f"{path}: old_string {where} — it must match exactly once; "
                             "include more surrounding lines to make it unique")
        self.write(path, text.replace(old, new, 1))

    def exists(self, path: str) -> bool:
        try:
            with self._locate(_parts(path), follow_last=True) as (dirfd, name):
                return _lstat(name, dirfd) is not None
        except PathOutsideWorkspaceError:
            raise
        except OSError:  # missing, a file on the way, a symlink loop
            return False

    def listing(self, path: str = ".", limit: int = 2000) -> list[str]:
        """Files under ``path``, sorted, without what the repository's ``.gitignore`` files
        (at ``path``, above it and below it) or ``SKIP_DIRS`` leave out."""
        parts = _parts(path)
        prefix = PurePosixPath(*parts) if parts else PurePosixPath()
        rules = self._ignores_above(parts)
        with self._locate(parts, follow_last=True) as (dirfd, name):
            found = _lstat(name, dirfd)
            if found is None:
                raise FileNotFoundError(errno.ENOENT, "no such file or directory", path)
            if not stat.S_ISDIR(found.st_mode):
                return [str(prefix)]
            fd = os.open(name, _DIR, dir_fd=dirfd)
        try:
            return _walk(fd, prefix, limit, rules)
        finally:
            os.close(fd)

    def _ignores_above(self, parts: list[str]) -> Ignores:
        """The ``.gitignore`` rules of the root and every directory down to (not including)
        ``parts``; the walk adds those from there on."""
        rules = Ignores()
        for depth in range(len(parts)):
            base = PurePosixPath(*parts[:depth]) if depth else PurePosixPath()
            try:
                data, _ = self._read_bytes(str(base / IGNORE_FILE), IGNORE_LIMIT)
            except (OSError, ValueError):
                continue  # none, or not a regular file
            rules.add(base, data)
        return rules

    def _read_bytes(self, path: str, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` + 1 bytes of a regular file, and its size."""
        with self._locate(_parts(path), follow_last=True) as (dirfd, name):
            fd = os.open(name, _READ, dir_fd=dirfd)
        try:
            size = _require_regular(fd, path).st_size
            chunks, got = [], 0
            while got <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - got))):
                chunks.append(chunk)
                got += len(chunk)
            return b"".join(chunks)[:limit], max(size, got)
        finally:
            os.close(fd)

    @contextmanager
    def _locate(self, parts: list[str], *, follow_last: bool,
                create_dirs: bool = False) -> Iterator[tuple[int, str]]:
        """The directory descriptor holding the path's last component, and its name (which
        may not exist). Symlinks on the way are expanded inside the workspace."""
        stack = [os.open(self.root, _DIR)]
        try:
            yield self._walk_to(stack, deque(parts), follow_last, create_dirs)
        finally:
            for fd in stack:
                os.close(fd)

    def _walk_to(self, stack: list[int], todo: deque[str], follow_last: bool,
                 create_dirs: bool) -> tuple[int, str]:
        hops = 0
        while todo:
            name = todo.popleft()
            if name in ("", "."):
                continue
            if name == "..":
                if len(stack) == 1:
                    raise PathOutsideWorkspaceError(_outside("a symlink leads above it"))
                os.close(stack.pop())
                continue
            last = not any(p not in ("", ".") for p in todo)
            found = _lstat(name, stack[-1])
            if found is None and not last and create_dirs:
                os.mkdir(name, 0o755, dir_fd=stack[-1])
                if self.owner is not None:
                    os.chown(name, *self.owner, dir_fd=stack[-1], follow_symlinks=False)
                found = _lstat(name, stack[-1])
            if found is not None and stat.S_ISLNK(found.st_mode) and (follow_last or not last):
                hops += 1
                if hops > MAX_HOPS:
                    raise OSError(errno.ELOOP, "too many levels of symbolic links", name)
                self._expand(stack, todo, os.readlink(name, dir_fd=stack[-1]))
                continue
            if last:
                return stack[-1], name
            if found is None:
                raise FileNotFoundError(errno.ENOENT, "no such file or directory", name)
            stack.append(os.open(name, _DIR, dir_fd=stack[-1]))  # ENOTDIR for a file
        return stack[-1], "."

    def _expand(self, stack: list[int], todo: deque[str], target: str) -> None:
        """Put a symlink's target in front of what is left of the path."""
        if target.startswith("/"):
            inside = target == WORKDIR or target.startswith(WORKDIR + "/")
            if not inside:
                raise PathOutsideWorkspaceError(_outside(f"a symlink points to {target}"))
            while len(stack) > 1:
                os.close(stack.pop())
            target = target[len(WORKDIR):]
        todo.extendleft(reversed(target.split("/")))


def _parts(path: str) -> list[str]:
    """The components of a workspace path, refused when it leaves the workspace lexically."""
    if path.startswith("/") and path != WORKDIR and not path.startswith(WORKDIR + "/"):
        raise PathOutsideWorkspaceError(f"{path}: outside the workspace — use a path under "
                                        f"{WORKDIR}, or one relative to it")
    depth, parts = 0, []
    for part in path.removeprefix(WORKDIR).split("/"):
        if part in ("", "."):
            continue
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise PathOutsideWorkspaceError(f"{path}: outside the workspace — use a path under "
                                            f"{WORKDIR}, or one relative to it")
        parts.append(part)
    return parts


def _outside(why: str) -> str:
    return f"outside the workspace: {why} — use a path under /workspace (symlinks may not leave it)"


def _lstat(name: str, dirfd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _require_regular(fd: int, path: str) -> os.stat_result:
    st = os.fstat(fd)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st)
    return st


def _not_regular(path: str, st: os.stat_result) -> Exception:
    if stat.S_ISDIR(st.st_mode):
        return IsADirectoryError(errno.EISDIR, "is a directory", path)
    return ValueError(f"{path}: not a regular file (a FIFO, socket or device) — the file tools "
                      "read and write regular files only")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _walk(fd: int, prefix: PurePosixPath, limit: int, rules: Ignores) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames, dirfd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
        rel = PurePosixPath(os.path.normpath(prefix / dirpath))
        if IGNORE_FILE in filenames:
            data = _read_ignore(dirfd)
            if data is not None:
                rules.add(rel, data)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not rules.ignored(rel / d, True))
        out.extend(str(rel / f) for f in sorted(filenames)
                   if not rules.ignored(rel / f, False))
        if len(out) >= limit:
            return out[:limit]
    return out


def _read_ignore(dirfd: int) -> bytes | None:
    """A directory's ``.gitignore``, if it is a regular file (never followed, never waited on)."""
    try:
        fd = os.open(IGNORE_FILE, _READ, dir_fd=dirfd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, IGNORE_LIMIT)
    finally:
        os.close(fd)
