"""The runs directory as a history: listing runs and settling the ones a killed process left."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.runs.record import RUN_JSON, RUNNING, write_json_atomic
from harness.sandbox.lease import LEASE, is_alive


def read_run(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def runs(runs_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every run under ``runs_dir`` with its run.json, oldest first. Hidden directories are
    skipped: a run being made lives under ``.NAME.new`` until it is renamed whole."""
    found = []
    listed = sorted(p for p in runs_dir.iterdir()
                    if p.is_dir() and not p.name.startswith(".")) if runs_dir.is_dir() else []
    for run_dir in listed:
        data = read_run(run_dir)
        if data is not None:
            found.append((run_dir, data))
    return sorted(found, key=lambda item: str(item[1].get("started_at", "")))


def mark_interrupted(runs_dir: Path) -> list[Path]:
    """Runs still marked running whose process is gone (killed, even by kill -9) become
    ``interrupted``. Returns them."""
    settled = []
    for run_dir, data in runs(runs_dir):
        if data.get("status") == RUNNING and not is_alive(run_dir) and not _starting(run_dir, data):
            data["status"] = "interrupted"
            write_json_atomic(run_dir / RUN_JSON, data)
            settled.append(run_dir)
    return settled


def _starting(run_dir: Path, data: dict[str, Any]) -> bool:
    """A run takes its lease only once its sandbox session starts; before that (no lease file
    yet) its recorded process being alive is what says it lives. Another batch worker starting
    meanwhile must not settle it."""
    if (run_dir / LEASE).exists():
        return False
    pid = data.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
