#!/usr/bin/env python3
"""PID 1 of a ticket's container (stdlib only, Python 3.9+; sent as ``python3 -I -c``).

It only reaps: every process orphaned inside the container is re-parented here and must be
waited for, or the pids limit fills with zombies. It starts nothing, so the exec supervisor can
kill every other process in the container (``kill(-1)`` spares PID 1) after each command:
nothing a command starts outlives it. SIGTERM or SIGINT (``docker stop``) ends the container.
"""

import os
import signal

SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main():
    # Blocked signals stay pending until sigwait takes them: no SIGCHLD is ever missed.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    while True:
        if signal.sigwait(SIGNALS) != signal.SIGCHLD:
            return
        reap()


if __name__ == "__main__":
    main()
