"""A run's lease: an exclusive lock on ``<run_dir>/.lease`` held for as long as the run lives.

The kernel drops the lock when the process dies, however it dies (kill -9 included), so
``harness gc`` can tell a live run's container from an orphan's by trying the lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

LEASE = ".lease"


class Lease:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LEASE
        self._fd: int | None = None

    def __enter__(self) -> Lease:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RuntimeError(f"{self.path.parent} is in use by another harness process") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def is_alive(run_dir: Path) -> bool:
    """Whether a process still holds ``run_dir``'s lease."""
    path = run_dir / LEASE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
