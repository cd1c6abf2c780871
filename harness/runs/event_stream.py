"""``--json-events``: every event a run records, as it happens, one JSON object a line, for
other tools (docs/events.md is the schema). Each line is redacted like events.jsonl."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from harness.vendors.common import redact_data

SCHEMA = 1  # bumped only when a documented field changes meaning or goes away
Listener = Callable[[str, dict[str, Any]], None]


class JsonEvents:
    """A ``RunRecorder`` listener writing ``{"schema", "seq", "t", "event", ...data}`` lines to
    ``out``, flushed one by one (a reader sees each event when it happens)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seq = 0
        self._lock = threading.Lock()  # a listener may be called from a worker thread

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self.seq += 1
            envelope = {"schema": SCHEMA, "seq": self.seq,
                        "t": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "event": kind}
            line = json.dumps(redact_data({**data, **envelope}), default=str)
            self.out.write(line + "\n")
            self.out.flush()


def tee(*listeners: Listener | None) -> Listener:
    """One listener calling each of ``listeners`` (None ones skipped) in order."""
    chosen = [f for f in listeners if f is not None]

    def both(kind: str, data: dict[str, Any]) -> None:
        for f in chosen:
            f(kind, data)

    return both
