"""A host server on a Unix socket that only the container's user may reach: the egress proxy of
a CLI session and the install proxy of a dependency build both listen this way.

The socket's directory is private (0700, this process's). When the container's user is not
this process's, the directory stays this process's (the gemini CLI trusts its system settings
in the egress control directory only when root owns the path) and only that user's group may
enter it (0750) and connect (0660). No other local user reaches the socket: under /tmp at 0755
and 0666, any of them reached the API with the real key."""

from __future__ import annotations

import os
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def private_dir(prefix: str, owner: tuple[int, int] | None = None) -> Path:
    """A new directory for one socket (short: a socket path must fit in 108 bytes) that
    ``owner`` (the container's uid, gid) can enter and nobody else but this process."""
    path = Path(tempfile.mkdtemp(prefix=prefix))  # 0700, this process's
    if owner is not None and owner != (os.getuid(), os.getgid()):
        os.chown(path, -1, owner[1])
        path.chmod(0o750)
    return path


def share_with_directory_group(socket_path: Path) -> None:
    """Let the group its directory was given (``private_dir``) connect to ``socket_path``."""
    group = socket_path.parent.stat().st_gid
    if group != os.getgid():
        os.chown(socket_path, -1, group)
        socket_path.chmod(0o660)
    else:
        socket_path.chmod(0o600)


@contextmanager
def serving(server: socketserver.BaseServer, name: str) -> Iterator[None]:
    """``server`` answering on a thread of its own for the block; closed at its end."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
