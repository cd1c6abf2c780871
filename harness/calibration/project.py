"""Where a project's history lives: the user's data directory (resolved at the CLI edge, the only
place that reads the environment), the stages file's ``calibration.history``, and the project's
identity — its repository's root commit, which survives clones, renames and moves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import git

from harness.calibration.history_db import HistoryError
from harness.config.schema import CalibrationConfig


def data_home(environ: Mapping[str, str]) -> Path:
    """``$HARNESS_HOME``, else ``$XDG_DATA_HOME/harness``, else ``~/.local/share/harness``."""
    if environ.get("HARNESS_HOME"):
        return Path(environ["HARNESS_HOME"]).expanduser()
    xdg = environ.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():  # the XDG spec: a relative value is to be ignored
        return Path(xdg) / "harness"
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return home / ".local" / "share" / "harness"


def history_dir(settings: CalibrationConfig, config_dir: Path, home: Path | None) -> Path | None:
    """The directory of history files: the stages file's setting (relative to that file), else
    ``home``/history, else None (no history: library callers that pass no home)."""
    if settings.history:
        path = Path(settings.history).expanduser()
        return path if path.is_absolute() else config_dir / path
    return home / "history" if home is not None else None


def project_id(repo: Path) -> str:
    """The repository's root commit (the smallest, if history merged several roots)."""
    if not repo.is_dir():  # else git would answer for the current directory's repository
        raise HistoryError(f"{repo}: no such directory — cannot key its run history by the "
                           "root commit")
    try:
        roots: list[str] = git.Git(repo).rev_list("--max-parents=0", "HEAD").split()
    except (git.GitCommandError, git.NoSuchPathError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise HistoryError(f"{repo}: cannot key its run history by the root commit — not a git "
                           f"repository with a commit ({detail.strip()})") from None
    return min(roots)


def history_file(directory: Path, project: str) -> Path:
    return directory / f"{project}.sqlite"
