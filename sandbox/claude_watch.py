"""Runs one ``claude -p`` session inside the sandbox for the claude-cli vendor.

Stdlib only, and sent to the container as ``python3 -I -c SOURCE SPEC_JSON``: nothing is
installed there. The harness cannot watch an exec while it runs, so this script does it inside:

* it keeps only the stream-json lines the vendor reads (init, ``api_retry``, the result), so a
  long session's transcript never fills the exec's output limit;
* it ends the session on a refused key (the CLI retries 401s like any other fault), on a retry
  the CLI would send after the deadline, and at the deadline itself, and says why on its last
  line, so the harness reports the fault instead of a bare timeout;
* it removes the session directory (config, temp files) and kills every process the session
  started, found by a marker in their environment (tool commands may leave its process group).

SPEC: ``argv`` (the claude command), ``stdin`` (the prompt file), ``dir`` (removed at the end),
``seconds`` (time allowed), ``marker`` (a unique string).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from typing import IO, Any

VERDICT = "harness_watch"  # ``type`` of the last line this script prints (claude_cli/result.py)
REFUSED = (401, 403)
TAIL = 2000  # characters of non-JSON stdout kept for the error message
EXIT_WAIT = 5.0  # seconds claude gets to exit after its result before it is killed


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def keep(event: dict[str, Any]) -> bool:
    kind, subtype = event.get("type"), event.get("subtype")
    return kind == "result" or (kind == "system" and subtype == "api_retry")


def judge(event: dict[str, Any], deadline: float) -> dict[str, Any] | None:
    """A verdict that ends the session now, for an ``api_retry`` event; else None."""
    if event.get("type") != "system" or event.get("subtype") != "api_retry":
        return None
    fault = {"status": event.get("error_status"), "error": event.get("error"),
             "attempt": event.get("attempt")}
    if fault["status"] in REFUSED:
        return {"verdict": "auth", **fault}
    delay = float(event.get("retry_delay_ms") or 0) / 1000
    if time.monotonic() + delay >= deadline:
        return {"verdict": "retry_past_deadline", "delay_s": delay, **fault}
    return None


class Watch:
    """Reads claude's stream-json until EOF, its result, a verdict, or the deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.stray = ""  # the tail of what was not JSON (a crash message, typically)

    def run(self, out: IO[bytes]) -> dict[str, Any]:
        sel = selectors.DefaultSelector()
        sel.register(out, selectors.EVENT_READ)
        buffer = b""
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                return {"verdict": "deadline"}
            if not sel.select(timeout=min(left, 0.25)):
                continue
            chunk = os.read(out.fileno(), 65536)
            *lines, buffer = (buffer + chunk).split(b"\n") if chunk else (buffer, b"")
            for raw in lines:
                verdict = self.take(raw.decode("utf-8", "replace"))
                if verdict is not None:
                    return verdict
            if not chunk:
                return {"verdict": "exited"}

    def take(self, line: str) -> dict[str, Any] | None:
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            if line.strip():
                self.stray = (self.stray + line + "\n")[-TAIL:]
            return None
        if keep(event):
            emit(event)
        if event.get("type") == "result":  # the session is over, whatever still holds stdout
            return {"verdict": "exited"}
        return judge(event, self.deadline)


def sweep(marker: str) -> None:
    """SIGKILL every process whose environment carries the session's marker."""
    needle = marker.encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                found = needle in f.read()
            if found and int(pid) != os.getpid():
                os.kill(int(pid), signal.SIGKILL)
        except OSError:  # gone already, or not ours to read
            continue


def stop(proc: subprocess.Popen[bytes], marker: str) -> None:
    with contextlib.suppress(OSError):  # the group may be gone already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    sweep(marker)


def on_term(signum: int, frame: object) -> None:
    # The exec supervisor's own timeout: leave through ``finally`` so claude goes too.
    raise SystemExit(128 + signum)


def main() -> None:
    spec = json.loads(sys.argv[1])
    deadline = time.monotonic() + float(spec["seconds"])
    signal.signal(signal.SIGTERM, on_term)
    env = dict(os.environ, HARNESS_CLAUDE_SESSION=spec["marker"])
    watch = Watch(deadline)
    try:
        with open(spec["stdin"], "rb") as prompt:
            proc = subprocess.Popen(spec["argv"], stdin=prompt, stdout=subprocess.PIPE, env=env,
                                    start_new_session=True)
        try:
            assert proc.stdout is not None
            verdict = watch.run(proc.stdout)
            if verdict["verdict"] == "exited":
                proc.wait(timeout=max(min(deadline - time.monotonic(), EXIT_WAIT), 0.1))
        except subprocess.TimeoutExpired:
            verdict["lingered"] = True  # killed below; its answer, if any, is already out
        finally:
            stop(proc, spec["marker"])
    finally:
        shutil.rmtree(spec["dir"], ignore_errors=True)
    emit({"type": VERDICT, "exit_code": proc.returncode, "stdout_tail": watch.stray, **verdict})


if __name__ == "__main__":
    main()
