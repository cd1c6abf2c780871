"""The history file: rows from run.json, concurrent writers, and files it must refuse (and
leave exactly as they were)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from harness.calibration.history_db import (
    APPLICATION_ID,
    HistoryDB,
    HistoryError,
    NoHistoryError,
    RunRecordError,
)
from harness.calibration.model import Shape
from harness.calibration.project import data_home, history_dir, project_id
from harness.config.schema import CalibrationConfig
from tests.calibration.synthetic import history, run_state, samples
from tests.sandbox.conftest import git, make_repo

WRITERS, RUNS_EACH = 4, 25


def test_a_run_json_round_trips(tmp_path: Path) -> None:
    db = HistoryDB(tmp_path / "h.sqlite", "p1")
    states = history(12, seed=5)
    states[3]["status"] = "halted"
    del states[4]["decomposition"]
    assert all(db.add(s) for s in states)
    assert not db.add(states[0])  # already recorded: importing twice is harmless
    assert db.count() == 12
    assert db.samples() == samples(states)  # tokens by stage summed over attempts, in order
    assert db.latest_shape("T-1") == ("R0011", Shape.of(states[11]["decomposition"]))
    assert db.latest_shape("T-9") is None
    coder = db.attempt_figures()["coder"]
    assert coder.output * 5 == pytest.approx(coder.prompt, rel=0.01)  # 1/6 of tokens is output


def test_unfinished_and_foreign_json_are_refused(tmp_path: Path) -> None:
    db = HistoryDB(tmp_path / "h.sqlite", "p1")
    with pytest.raises(RunRecordError, match="has not finished"):
        db.add({**history(1)[0], "status": "running"})
    with pytest.raises(RunRecordError, match=r"not a harness run\.json"):
        db.add({"status": "resolved", "run_id": "x"})
    assert db.count() == 0


def _write_runs(path: str, writer: int) -> None:
    db = HistoryDB(Path(path), "p1")
    for i in range(RUNS_EACH):
        db.add(run_state(f"W{writer}-{i:03d}", Shape(2, 1, 3), {"planner": 10, "coder": 20}))


def test_concurrent_writers_lose_no_rows(tmp_path: Path) -> None:
    """Processes and threads at once, racing to create the file too."""
    path = str(tmp_path / "h.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_runs, args=(path, w)) for w in range(WRITERS)]
    threads = [threading.Thread(target=_write_runs, args=(path, WRITERS + w))
               for w in range(WRITERS)]
    for worker in [*procs, *threads]:
        worker.start()
    for worker in [*procs, *threads]:
        worker.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    db = HistoryDB(Path(path), "p1")
    assert db.count() == 2 * WRITERS * RUNS_EACH
    found = db.samples()
    assert len({s.run_id for s in found}) == 2 * WRITERS * RUNS_EACH
    assert all(s.stage_tokens == {"planner": 10, "coder": 20} for s in found)


def _refused(path: Path, match: str, project: str = "p1") -> None:
    before = path.read_bytes()
    with pytest.raises(HistoryError, match=match) as info:
        HistoryDB(path, project)
    assert str(path) in str(info.value)
    assert "left as it is" in str(info.value)
    assert path.read_bytes() == before, "the file was modified"


def test_a_file_of_garbage_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.write_bytes(b"not a database, but someone's notes\n" * 200)
    _refused(path, "file is not a database")


def test_a_truncated_history_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    db = HistoryDB(path, "p1")
    for state in history(200):
        db.add(state)
    _checkpoint(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _refused(path, "corrupt|malformed")


def _checkpoint(path: Path) -> None:
    """Fold the WAL into the main file, as the last connection closing does."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode = DELETE")
    con.close()


def test_another_programs_sqlite_file_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.execute("INSERT INTO notes VALUES ('mine')")
    con.commit()
    con.close()
    _refused(path, "not a harness run history")


@pytest.mark.parametrize(("version", "hint"), [(0, "backfill with `harness history import"),
                                               (2, "upgrade harness")])
def test_another_schema_version_is_refused_and_kept(tmp_path: Path, version: int,
                                                    hint: str) -> None:
    path = tmp_path / "h.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (run_id TEXT)")  # an older layout
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {version}")
    con.commit()
    con.close()
    _refused(path, f"schema version {version}, this harness reads version 1.*{hint}")


def test_another_projects_history_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    HistoryDB(path, "p1").add(history(1)[0])
    _checkpoint(path)
    _refused(path, "belongs to project p1, not p2", project="p2")


def test_no_file_is_created_when_only_reading(tmp_path: Path) -> None:
    with pytest.raises(NoHistoryError, match="no run history for this project yet"):
        HistoryDB(tmp_path / "none.sqlite", "p1", create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_the_project_is_the_root_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.txt": "a\n"})
    root = git(repo, "rev-parse", "HEAD").strip()
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    assert project_id(repo) == root
    with pytest.raises(HistoryError, match="not a git repository with a commit"):
        project_id(tmp_path)


def test_where_the_history_lives(tmp_path: Path) -> None:
    assert data_home({"HARNESS_HOME": "/h", "XDG_DATA_HOME": "/x"}) == Path("/h")
    assert data_home({"XDG_DATA_HOME": "/x", "HOME": "/u"}) == Path("/x/harness")
    assert data_home({"XDG_DATA_HOME": "rel", "HOME": "/u"}) == Path("/u/.local/share/harness")
    cfg = CalibrationConfig()
    assert history_dir(cfg, tmp_path, Path("/h")) == Path("/h/history")
    assert history_dir(cfg, tmp_path, None) is None  # library callers: no history unless set
    assert history_dir(CalibrationConfig(history="hist"), tmp_path, Path("/h")) == tmp_path / "hist"


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(HistoryError, match="cannot create the run history directory"):
        HistoryDB(tmp_path / "file" / "history" / "h.sqlite", "p1")
