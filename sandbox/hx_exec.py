#!/usr/bin/env python3
"""Runs one command inside the sandbox container for the harness (stdlib only, Python 3.9+).

Usage: hx_exec.py REQUEST_JSON. The request names the command (argv list, or a string run by
/bin/sh -c), a timeout, an output limit, env and cwd. The command runs in its own session so a
timeout kills its whole process group; when it ends, every other process in the container but
PID 1 is killed too (``sweep``, on by default). With ``forward`` ({port, socket}), connections to
127.0.0.1:port are relayed to a Unix socket while the command runs: the container's only way
out, to the harness's egress proxy. Prints one JSON result line on stdout.

The supervisor makes itself non-dumpable before it starts the command, so the command (same
uid) cannot open ``/proc/$PPID/mem`` to forge this result or survive the sweep, nor read the
supervisor's environment or descriptors. The command's own exec makes it dumpable again.
"""

import contextlib
import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque

GRACE = 2.0  # seconds between SIGTERM and SIGKILL of the process group
DRAIN = 0.5  # seconds to keep reading pipes that outlive the command


class Capped:
    """Keeps the first and last ``limit // 2`` bytes of a stream and counts what was cut."""

    def __init__(self, limit):
        self.half = max(limit // 2, 1)
        self.head = bytearray()
        self.tail = deque()
        self.tail_len = 0
        self.cut = 0

    def feed(self, chunk):
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if not chunk:
            return
        self.tail.append(chunk)
        self.tail_len += len(chunk)
        while self.tail_len - len(self.tail[0]) >= self.half:
            dropped = self.tail.popleft()
            self.tail_len -= len(dropped)
            self.cut += len(dropped)

    def text(self):
        tail = b"".join(self.tail)
        extra = max(len(tail) - self.half, 0)
        tail = tail[extra:]
        self.cut += extra
        head = self.head.decode("utf-8", "replace")
        if not self.cut:
            return head + tail.decode("utf-8", "replace")
        note = "\n[... %d bytes cut by the harness ...]\n" % self.cut
        return head + note + tail.decode("utf-8", "replace")


def oom_kills():
    """The container's OOM-kill counter (cgroup v2 memory.events, or v1 memory.oom_control)."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return -1


def collect(proc, sinks, timeout):
    """Read both pipes until they close or the deadline passes; return whether it timed out.
    No threads: under a pids limit a fork bomb may leave none to start."""
    sel = selectors.DefaultSelector()
    for stream, sink in zip((proc.stdout, proc.stderr), sinks):
        sel.register(stream, selectors.EVENT_READ, sink)
    deadline = time.monotonic() + timeout
    drain_until = None
    while sel.get_map():
        now = time.monotonic()
        if now >= deadline:
            return True
        if drain_until is None and proc.poll() is not None:
            # Exited; background children may hold the pipes open: read what is there, briefly.
            drain_until = now + DRAIN
        if drain_until is not None and now >= drain_until:
            break
        wait = min(deadline, drain_until or deadline) - now
        for key, _ in sel.select(timeout=min(wait, 0.25)):
            chunk = os.read(key.fd, 65536)
            if chunk:
                key.data.feed(chunk)
            else:
                sel.unregister(key.fileobj)
    try:
        proc.wait(timeout=max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return True
    return False


def forward(spec):
    """Relay connections to 127.0.0.1:PORT in the container to the host's egress socket, for
    the length of this command (threads of this process: nothing outlives it)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(spec["port"])))
    listener.listen(64)
    thread = threading.Thread(target=accept_loop, args=(listener, spec["socket"]))
    thread.daemon = True
    thread.start()


def accept_loop(listener, path):
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
            for src, dst in ((client, upstream), (upstream, client)):
                relay = threading.Thread(target=pipe, args=(src, dst))
                relay.daemon = True
                relay.start()
        except (OSError, RuntimeError):  # no proxy listening, or no thread to be had
            client.close()
            upstream.close()


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def undumpable():
    """prctl(PR_SET_DUMPABLE, 0); an error message when that is not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(4, 0, 0, 0, 0) == 0:
            return None
        return "prctl(PR_SET_DUMPABLE) failed: errno %d" % ctypes.get_errno()
    except (OSError, AttributeError) as exc:
        return "no prctl: %s" % exc


def refuse(code, message):
    print(json.dumps({"exit_code": code, "stdout": "", "stderr": message, "timed_out": False,
                      "oom_killed": False, "duration": 0.0, "truncated": 0}))


def main():
    problem = undumpable()
    if problem:
        refuse(125, "harness exec supervisor: %s; refusing to run a command it could not "
                    "protect itself from" % problem)
        return
    req = json.loads(sys.argv[1])
    if req.get("forward"):
        try:
            forward(req["forward"])
        except OSError as exc:
            refuse(125, "harness egress relay: %s" % exc)
            return
    cmd = req["cmd"]
    argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else cmd
    env = dict(os.environ)
    env.update(req.get("env") or {})
    out, err = Capped(req["limit"]), Capped(req["limit"])
    before = oom_kills()
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=req.get("cwd") or None, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:
        refuse(127, "%s: %s" % (argv[0], exc))
        return
    timed_out = collect(proc, (out, err), req["timeout"])
    # The whole process group goes, on a timeout and also after a normal exit; then every
    # other process in the container (a daemon that left the group with setsid, say), so
    # nothing the command started outlives it or sees the next command's environment.
    kill_group(proc, gently=timed_out)
    if req.get("sweep", True):
        kill_everything_else()
    code = proc.returncode
    # A shell reports its OOM-killed child as exit 137, so count kills rather than read signals.
    oom = not timed_out and oom_kills() > before >= 0
    print(json.dumps({
        "exit_code": 128 - code if code < 0 else code,
        "stdout": out.text(), "stderr": err.text(), "timed_out": timed_out,
        "oom_killed": oom, "duration": time.monotonic() - start,
        "truncated": out.cut + err.cut,
    }))


def kill_group(proc, gently):
    """SIGTERM (when ``gently``), a grace period, then SIGKILL to the process group."""
    if gently:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=GRACE)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_everything_else():
    """SIGKILL every process of the container but PID 1 (the reaper) and this one. kill(-1)
    walks the process list under the kernel's task lock, so a forking process cannot slip
    through; it spares PID 1 of the namespace and the caller."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)


if __name__ == "__main__":
    main()
