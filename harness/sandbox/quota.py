"""The checkout's disk quota (``sandbox.workspace_quota``), watched from the host.

The checkout is a host directory mounted read-write, so a command can fill the host's disk
through it (2 GiB in 1.6 s was measured). A size-limited filesystem would be a hard limit but
needs root to mount, so instead a host thread measures the tree while each command runs and
has the command stopped once the tree is over its limit. It is a watcher, not a limit: a fast
writer gets some way past it before it is stopped (the tests measure how far). ``fallocate``
claims space faster than any watcher looks: the container's RLIMIT_FSIZE (the quota) bounds one
call, not a loop of them.

A tree's usage is its allocated blocks (``st_blocks``: a sparse file costs what it holds on
disk), each inode once, found by ``lstat`` alone. A walk costs a syscall per entry, so the
thread mostly polls the filesystem's used space (one ``statvfs``) and walks the tree only when
the filesystem has grown by more than the room left under the limit since the last walk, and
at least every ``FULL_WALK`` seconds (in case something else freed space meanwhile). The last
measurement carries over to the next command: a short command costs no walk.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from harness.sandbox.base import ExecResult

POLL = 0.02  # seconds between statvfs calls
FULL_WALK = 2.0  # seconds between walks even when the filesystem did not grow ...
WALK_SHARE = 20  # ... or this many times as long as the last walk took (a large tree)

# Run in the container (as the container's user) to stop a command: SIGKILL, in passes until
# none is left, every process but PID 1 and those whose parent is outside the container (exec'd
# by docker: the supervisor, this one). The supervisor then reports as for any killed command.
KILLER = """
import os, signal
me = os.getpid()
for _ in range(100):
    hit = 0
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) in (1, me):
            continue
        try:
            with open("/proc/%s/status" % p) as f:
                ppid = [ln.split()[1] for ln in f if ln.startswith("PPid:")][0]
            if ppid != "0":
                os.kill(int(p), signal.SIGKILL)
                hit += 1
        except (OSError, IndexError):
            continue
    if not hit:
        break
"""


def disk_usage(tree: Path) -> int:
    """Bytes allocated to ``tree`` and everything under it, never following a symlink; a file
    with several links under it counts once."""
    linked: set[tuple[int, int]] = set()
    total = os.lstat(tree).st_blocks * 512
    for _dirpath, dirnames, filenames, dirfd in os.fwalk(tree, follow_symlinks=False):
        for name in (*dirnames, *filenames):
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in linked:
                    continue
                linked.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
    return total


def filesystem_used(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


@dataclass
class Watch:
    """One command's watch: ``over`` is the usage that stopped it, if it was stopped."""

    limit: int
    over: int | None = None


@dataclass
class Measure:
    """The tree's usage as last walked, and the filesystem's used bytes just before."""

    used: int
    fs_used: int
    at: float  # monotonic time of the walk
    took: float  # seconds the walk took

    @classmethod
    def take(cls, tree: Path) -> Measure:
        fs, started = filesystem_used(tree), time.monotonic()
        used = disk_usage(tree)
        return cls(used, fs, started, time.monotonic() - started)

    def stale(self, tree: Path, limit: int) -> bool:
        """The tree may be over ``limit`` by now, or it is time for a walk anyway."""
        grown = filesystem_used(tree) - self.fs_used
        due = max(FULL_WALK, WALK_SHARE * self.took)
        return grown > limit - self.used or time.monotonic() - self.at > due


class Quota:
    """The checkout may grow by ``quota`` bytes over its size at the start (``base``). A
    command that was stopped leaves the tree over that; the next command's limit is then the
    tree's size when it starts (measured first), so commands can clean up but not grow it."""

    def __init__(self, tree: Path, quota: int) -> None:
        self.tree = tree
        self.quota = quota
        self.last = Measure.take(tree)
        self.base = self.last.used
        self._over = False  # the last command was stopped: measure before the next one

    @contextmanager
    def watch(self, stop: Callable[[], None]) -> Iterator[Watch]:
        """Watch the tree for the block (a command's run); ``stop`` it once when over."""
        limit = self.base + self.quota
        if self._over:
            self.last = Measure.take(self.tree)
            limit = max(limit, self.last.used)
        w = Watch(limit)
        done = threading.Event()
        thread = threading.Thread(target=self._poll, args=(w, done, stop), daemon=True,
                                  name="quota")
        thread.start()
        try:
            yield w
        finally:
            done.set()
            thread.join()
            self._over = w.over is not None

    def _poll(self, w: Watch, done: threading.Event, stop: Callable[[], None]) -> None:
        while True:
            try:
                # Over the limit counts only as measured now: the last walk may predate a
                # clean-up whose freed blocks the filesystem has already counted.
                if self.last.used > w.limit or self.last.stale(self.tree, w.limit):
                    self.last = Measure.take(self.tree)
            except OSError:  # the tree is gone (the sandbox is closing): nothing to watch
                return
            if self.last.used > w.limit:
                w.over = self.last.used
                stop()
                return
            if done.wait(POLL):
                return

    def verdict(self, result: ExecResult, w: Watch) -> ExecResult:
        """``result``, marked as stopped for the quota when it was."""
        if w.over is None:
            return result
        now = disk_usage(self.tree)
        note = (f"\n[harness: the command was stopped: the checkout grew past "
                f"sandbox.workspace_quota ({_mib(self.quota)} over its "
                f"{_mib(self.base)} at the start; it holds {_mib(now)} now). Delete what it "
                "wrote (a later command may not grow it further), or raise "
                "sandbox.workspace_quota in stages.yaml.]\n")
        return replace(result, stderr=result.stderr + note, quota_exceeded=True)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"
