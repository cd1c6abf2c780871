"""The egress proxy's reading of what the container sends, and its delivery of what comes back.

A request whose framing or path two HTTP parsers could read differently is refused, never
forwarded: the proxy and the API behind it must agree on where a body ends (a negative
``Content-Length`` would otherwise read the connection to its end and forward it with the key)
and on which resource a path names (``..`` or an escaped ``/`` that the upstream decodes).

The answer goes back to the client on a thread of its own (``ClientPipe``), so the proxy reads
the upstream to its end, and meters it, whatever the client does: one that hangs up or stops
reading is dropped, and the upstream still drained.
"""

from __future__ import annotations

import io
import re
import socket
import threading
from collections import deque
from contextlib import suppress
from email.message import Message

from harness.errors import SandboxError

LINE_LIMIT = 4096  # bytes of a chunk-size or trailer line
TRAILER_LINES = 64
_LENGTH = re.compile(r"[0-9]{1,15}")
_CHUNK = re.compile(rb"[0-9A-Fa-f]{1,15}")
# A path segment as written, unescaped: no `%` (an escape the upstream may decode into `/` or
# `.`), no backslash, and never `.` or `..` (checked apart).
_SEGMENT = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+")


class EgressRefused(SandboxError):
    """A request the egress proxy answers itself, with ``status``, and never forwards."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def plain_path(path: str) -> bool:
    """Whether ``path`` has a single reading: absolute, no empty, ``.`` or ``..`` segment, no
    percent escape and no backslash (an upstream may normalize or decode any of them)."""
    if not path.startswith("/"):
        return False
    return all(_SEGMENT.fullmatch(s) and s not in (".", "..") for s in path[1:].split("/"))


def read_body(headers: Message, rfile: io.BufferedIOBase, limit: int) -> bytes:
    """The request body as its headers frame it, strictly: one ``Content-Length`` of digits
    only, or ``Transfer-Encoding: chunked`` alone; no content coding (the proxy reads the
    body it forwards). Raises ``EgressRefused``."""
    lengths = headers.get_all("Content-Length") or []
    codings = headers.get_all("Transfer-Encoding") or []
    coding = headers.get_all("Content-Encoding") or []
    if any(c.strip().lower() != "identity" for c in coding):
        raise EgressRefused(415, f"Content-Encoding {', '.join(coding)} is not accepted: send "
                            "the request body uncompressed")
    if codings:
        if lengths:
            raise EgressRefused(400, "a request with both Content-Length and "
                                "Transfer-Encoding is refused (its end is ambiguous)")
        if len(codings) != 1 or codings[0].strip().lower() != "chunked":
            raise EgressRefused(501, f"Transfer-Encoding {', '.join(codings)} is not "
                                "supported: only chunked")
        return _chunked(rfile, limit)
    if len(lengths) > 1:
        raise EgressRefused(400, "a request with more than one Content-Length is refused")
    if not lengths:
        return b""
    text = lengths[0].strip()
    if not _LENGTH.fullmatch(text):
        raise EgressRefused(400, f"Content-Length {text!r} is not a decimal number")
    size = int(text)
    if size > limit:
        raise EgressRefused(413, f"request body over {limit} bytes")
    return _exactly(rfile, size)


def _chunked(rfile: io.BufferedIOBase, limit: int) -> bytes:
    data = bytearray()
    while True:
        line = _line(rfile)
        size_text = line.split(b";", 1)[0].strip()
        if not _CHUNK.fullmatch(size_text):
            raise EgressRefused(400, f"chunk size {size_text[:40]!r} is not hexadecimal")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(data) + size > limit:
            raise EgressRefused(413, f"request body over {limit} bytes")
        data += _exactly(rfile, size)
        if _line(rfile).strip() != b"":
            raise EgressRefused(400, "a chunk is longer than its size")
    for _ in range(TRAILER_LINES):
        if _line(rfile).strip() == b"":
            return bytes(data)
    raise EgressRefused(400, f"more than {TRAILER_LINES} trailer lines")


def _line(rfile: io.BufferedIOBase) -> bytes:
    line = rfile.readline(LINE_LIMIT + 1)
    if len(line) > LINE_LIMIT or not line.endswith(b"\n"):
        raise EgressRefused(400, "a chunked body's line is cut or over "
                            f"{LINE_LIMIT} bytes")
    return line


def _exactly(rfile: io.BufferedIOBase, size: int) -> bytes:
    data = rfile.read(size) if size else b""
    if len(data) != size:
        raise EgressRefused(400, f"the body ended after {len(data)} of its {size} bytes")
    return data


class ClientPipe:
    """Writes a response to the client on its own thread; ``put`` never blocks. A client that
    goes away, or holds more than ``limit`` bytes unread, is dropped (its socket shut down)
    and what it was owed discarded: the caller keeps reading the upstream regardless."""

    def __init__(self, wfile: io.BufferedIOBase, conn: socket.socket, limit: int) -> None:
        self._wfile, self._conn, self._limit = wfile, conn, limit
        self._cond = threading.Condition()
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._ended = False
        self.dropped = False
        self._thread = threading.Thread(target=self._run, name="egress-client", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        with self._cond:
            if self.dropped:
                return
            if self._queued + len(data) > self._limit:
                self._drop()
                return
            self._queue.append(data)
            self._queued += len(data)
            self._cond.notify()

    def close(self, grace: float) -> bool:
        """No more data: wait up to ``grace`` seconds for the client to take what is queued,
        then drop it. Whether it got everything."""
        with self._cond:
            self._ended = True
            self._cond.notify()
        self._thread.join(grace)
        if self._thread.is_alive():
            with self._cond:
                self._drop()
            self._thread.join()
        return not self.dropped

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._queue or self._ended or self.dropped):
                    self._cond.wait()
                if self.dropped or not self._queue:
                    return
                data = self._queue.popleft()
                self._queued -= len(data)
            try:
                self._wfile.write(data)
                self._wfile.flush()
            except (OSError, ValueError):  # the client is gone
                with self._cond:
                    self._drop()
                return

    def _drop(self) -> None:  # with the condition held
        self.dropped = True
        self._queue.clear()
        self._queued = 0
        with suppress(OSError):  # unblocks the writer in its write
            self._conn.shutdown(socket.SHUT_RDWR)
        self._cond.notify_all()
