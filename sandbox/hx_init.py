#!/usr/bin/env python3
"""PID 1 of a ticket's container (stdlib only, Python 3.9+; sent as ``python3 -I -c``).

It only reaps: every process orphaned inside the container is re-parented here and must be
waited for, or the pids limit fills with zombies. It starts nothing, so the exec supervisor can
kill every other process in the container (``kill(-1)`` spares PID 1) after each command:
nothing a command starts outlives it. SIGTERM or SIGINT (``docker stop``) ends the container.

Because ``kill(-1)`` spares it, PID 1 is the one process a command could hide in: it makes
itself non-dumpable first, so a command of the same uid cannot open its ``/proc/1/mem`` or
``ptrace`` it (no capability in the container overrides that).
"""

import ctypes
import os
import signal
import sys

SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def undumpable():
    """prctl(PR_SET_DUMPABLE, 0), or exit: a reaper that could be taken over must not run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        failed = libc.prctl(4, 0, 0, 0, 0) != 0
    except (OSError, AttributeError):
        failed = True
    if failed:
        sys.stderr.write("hx_init: cannot make PID 1 non-dumpable (prctl); refusing to run\n")
        sys.exit(70)


def main():
    undumpable()
    # Blocked signals stay pending until sigwait takes them: no SIGCHLD is ever missed.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    while True:
        if signal.sigwait(SIGNALS) != signal.SIGCHLD:
            return
        reap()


if __name__ == "__main__":
    main()
