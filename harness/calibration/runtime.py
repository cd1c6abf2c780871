"""A run's link to its project's history: the ceilings it is held to, built before the pipeline
starts, and the row it leaves when it ends (``harness.runs.execute`` calls both)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.calibration.ceilings import Ceilings, fixed
from harness.calibration.fit import calibrate
from harness.calibration.history_db import HistoryDB, HistoryError, RunRecordError
from harness.calibration.model import Calibration
from harness.calibration.project import history_dir, history_file, project_id
from harness.config.schema import StagesFile


@dataclass(frozen=True)
class RunHistory:
    ceilings: Ceilings
    db: HistoryDB | None

    def record(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Append the finished run; returns run.json's ``history`` field. A failure here never
        changes the run's outcome: it is reported in that field."""
        if self.db is None:
            return {"recorded": False, "note": self.ceilings.reason}
        try:
            added = self.db.add(state)
        except (HistoryError, RunRecordError) as exc:
            return {"recorded": False, "file": str(self.db.path), "error": str(exc)}
        return {"recorded": added, "file": str(self.db.path)}


def open_history(config: StagesFile, repo: Path, *, config_dir: Path,
                 home: Path | None) -> HistoryDB | None:
    """The project's history (created if new), or None when no history location is set.
    Raises ``HistoryError`` for a repository without a commit or an unusable file."""
    directory = history_dir(config.calibration, config_dir, home)
    if directory is None:
        return None
    project = project_id(repo)
    return HistoryDB(history_file(directory, project), project)


def ceilings_for(config: StagesFile, db: HistoryDB) -> Ceilings:
    """Fit the history when it has enough usable runs (else only count them)."""
    settings = config.calibration
    samples = db.samples()
    calibration = calibrate(samples, min_runs=settings.min_runs, quantile=settings.quantile)
    if not calibration.active:  # skip the fits nobody will use
        calibration = Calibration(calibration.usable_runs, settings.min_runs,
                                  settings.quantile, {})
    on_rambling = {role: stage.on_rambling for role, stage in config.stages.items()}
    return Ceilings(config.token_cap, settings, on_rambling, calibration, f"history {db.path}")


def prepare(config: StagesFile, repo: Path, *, config_dir: Path,
            home: Path | None) -> RunHistory:
    """Before the pipeline. An unusable history file raises ``HistoryError`` (nothing is spent
    and the file is left as it is); a repository without a commit only means no history (the
    sandbox refuses such a repository with its own message)."""
    settings = config.calibration
    directory = history_dir(settings, config_dir, home)
    if directory is None:
        return RunHistory(fixed(config.token_cap, settings, "no run history (calibration.history "
                                "is not set and no data directory was given)"), None)
    try:
        project = project_id(repo)
    except HistoryError as exc:
        return RunHistory(fixed(config.token_cap, settings, str(exc)), None)
    db = HistoryDB(history_file(directory, project), project)
    return RunHistory(ceilings_for(config, db), db)
