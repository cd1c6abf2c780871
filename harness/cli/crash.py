"""What the command line does with an exception nothing expected: the traceback goes to a file,
the user gets one line naming the command, the run directory when there is one, and that file."""

from __future__ import annotations

import os
import shlex
import traceback
from datetime import UTC, datetime
from pathlib import Path

from harness.calibration.project import data_home
from harness.runs.record import write_text_atomic
from harness.vendors.common import redact


def crash_line(exc: BaseException, argv: list[str]) -> str:
    """Write the details and say where they are, on one line."""
    details = _write_details(exc, argv)
    message = redact(str(exc)).replace("\n", " ")[:300]
    where = f"details written to {details}" if details else "no file could be written"
    run_dir = getattr(exc, "run_dir", None)
    run = f"; run directory: {run_dir}" if run_dir else ""
    return (f"harness: unexpected error in `harness {shlex.join(argv)}`: "
            f"{type(exc).__name__}: {message}{run}; {where}")


def _write_details(exc: BaseException, argv: list[str]) -> Path | None:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    text = f"$ harness {shlex.join(argv)}\n" + "".join(traceback.format_exception(exc))
    for directory in (data_home(os.environ) / "crashes", Path.cwd()):
        path = directory / f"crash-{stamp}-{os.getpid()}.txt"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, redact(text))
        except OSError:
            continue
        return path
    return None
