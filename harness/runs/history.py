"""The runs directory as a history: listing runs and settling the ones a killed process left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.runs.record import RUN_JSON, RUNNING, write_json_atomic
from harness.sandbox.lease import is_alive


def read_run(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def runs(runs_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every run under ``runs_dir`` with its run.json, oldest first."""
    found = []
    for run_dir in sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []:
        data = read_run(run_dir)
        if data is not None:
            found.append((run_dir, data))
    return sorted(found, key=lambda item: str(item[1].get("started_at", "")))


def mark_interrupted(runs_dir: Path) -> list[Path]:
    """Runs still marked running whose process is gone (killed, even by kill -9) become
    ``interrupted``. Returns them."""
    settled = []
    for run_dir, data in runs(runs_dir):
        if data.get("status") == RUNNING and not is_alive(run_dir):
            data["status"] = "interrupted"
            write_json_atomic(run_dir / RUN_JSON, data)
            settled.append(run_dir)
    return settled
