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
    ``out``, flushed one by one (a reader sees each event when it happens). ``for_run`` gives
    a listener for one of several runs sharing the stream (a batch): its lines carry
    ``fields`` (the ticket id) and the stream's one ``seq``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seq = 0
        self._lock = threading.Lock()  # listeners are called from the batch's worker threads

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        self.write(kind, data, {})

    def for_run(self, **fields: Any) -> Listener:
        return lambda kind, data: self.write(kind, data, fields)

    def write(self, kind: str, data: dict[str, Any], fields: dict[str, Any]) -> None:
        with self._lock:
            self.seq += 1
            envelope = {"schema": SCHEMA, "seq": self.seq,
                        "t": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "event": kind, **fields}
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
