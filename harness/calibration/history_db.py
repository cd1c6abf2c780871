"""A project's run history: one SQLite file per project (keyed by the repository's root
commit), appended to by every finished run and by ``harness history import``.

Concurrent writers (batch workers in threads or processes) are safe: the file is in WAL mode,
every write is one ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so two
writers never deadlock upgrading a read lock), and a busy file is waited for, not failed.

A file that is not a harness history, is corrupt, or has another schema version is never
written to: opening it raises ``HistoryError`` naming the file and what to do. A new file is
created only where nothing is (or an empty file is).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from harness.calibration.model import FEATURES, SUCCESS, Sample, Shape
from harness.errors import HarnessError

SCHEMA_VERSION = 1
APPLICATION_ID = 0x48524E53  # "HRNS": marks the file as a harness history
BUSY_TIMEOUT_S = 60.0
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
              "thinking_tokens")
SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY, ticket TEXT NOT NULL, status TEXT NOT NULL,
  started_at TEXT, ended_at TEXT,
  sub_tickets INTEGER, chain_depth INTEGER, operations INTEGER,
  tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
  token_cap INTEGER, effective_cap INTEGER, recorded_at TEXT NOT NULL);
CREATE TABLE attempts (
  run_id TEXT NOT NULL REFERENCES runs(run_id), seq INTEGER NOT NULL,
  stage TEXT NOT NULL, attempt INTEGER NOT NULL, label TEXT NOT NULL,
  vendor TEXT, model TEXT, tier TEXT, outcome TEXT NOT NULL,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,
  thinking_tokens INTEGER NOT NULL, tokens INTEGER NOT NULL, cost_usd REAL NOT NULL,
  duration_s REAL, PRIMARY KEY (run_id, seq));
CREATE INDEX runs_by_ticket ON runs (ticket, started_at);
"""


class HistoryError(HarnessError, RuntimeError):
    """The run history cannot be used: the file is corrupt, foreign, of another schema, or the
    repository has no identity to key it by. Nothing was written."""


class NoHistoryError(HistoryError):
    """The project has no history file yet (and none was to be created)."""


class RunRecordError(HarnessError, ValueError):
    """A run.json that cannot become a history row (not finished, or not a run.json)."""


@dataclass(frozen=True)
class AttemptFigures:
    """A stage's median attempt in successful runs, for the pre-run cost model."""

    attempts: int
    prompt: int  # input, cached or not
    output: int
    cached_share: float  # of the prompt, read from or written to the prompt cache


class HistoryDB:
    """One project's history file. Every call opens its own connection, so one object may be
    used from several threads and every process opens the file independently."""

    def __init__(self, path: Path, project: str, *, create: bool = True) -> None:
        self.path, self.project = path, project
        if not path.exists() and not create:
            raise NoHistoryError(f"{path}: no run history for this project yet — run tickets with "
                               "`harness run`, or backfill with `harness history import RUNS`")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"{path.parent}: cannot create the run history directory "
                               f"({exc.strerror}) — set calibration.history or HARNESS_HOME to "
                               "a writable directory") from None
        with self._connect() as db:
            self._prepare(db)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None
        finally:
            db.close()

    def _error(self, exc: sqlite3.Error) -> HistoryError:
        return HistoryError(f"{self.path}: cannot use this run history ({exc}); it was left "
                            "as it is — move it aside (harness starts a new one) and backfill "
                            "with `harness history import RUNS`, or set calibration.history to "
                            "another directory")

    def _prepare(self, db: sqlite3.Connection) -> None:
        """Create the schema in an empty file, else check the file is ours and sound."""
        if _is_empty(db):
            db.execute("BEGIN IMMEDIATE")
            if _is_empty(db):  # still empty now that we hold the write lock
                # One statement at a time: executescript() would commit, dropping the lock.
                for statement in filter(str.strip, SCHEMA.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("INSERT INTO meta VALUES ('project', ?), ('created_at', ?)",
                           (self.project, _now()))
            db.execute("COMMIT")
        self._check(db)
        db.execute("PRAGMA journal_mode = WAL")

    def _check(self, db: sqlite3.Connection) -> None:
        app = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if app != APPLICATION_ID:
            raise HistoryError(f"{self.path}: not a harness run history (an SQLite file of "
                               "something else); it was left as it is — point "
                               "calibration.history elsewhere or move the file aside")
        if version != SCHEMA_VERSION:
            newer = version > SCHEMA_VERSION
            raise HistoryError(
                f"{self.path}: run history schema version {version}, this harness reads "
                f"version {SCHEMA_VERSION}; it was left as it is — " + (
                    "upgrade harness" if newer else "move it aside (harness starts a new one) "
                    "and backfill with `harness history import RUNS`"))
        problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise HistoryError(f"{self.path}: run history is corrupt ({problems[0]}); it was left "
                               "as it is — move it aside and backfill with "
                               "`harness history import RUNS`")
        found = db.execute("SELECT value FROM meta WHERE key = 'project'").fetchone()
        if found is None or found[0] != self.project:
            raise HistoryError(f"{self.path}: this history belongs to project "
                               f"{found[0] if found else '(none)'}, not {self.project}; it was "
                               "left as it is — check calibration.history")

    def add(self, state: Mapping[str, Any]) -> bool:
        """Append a finished run (its run.json). False when the run is already recorded."""
        run, attempts = _rows(state)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                cursor = db.execute(f"INSERT OR IGNORE INTO runs VALUES ({_marks(13)})", run)
                if cursor.rowcount:
                    db.executemany(f"INSERT INTO attempts VALUES ({_marks(17)})", attempts)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return bool(cursor.rowcount)

    def count(self) -> int:
        with self._connect() as db:
            n: int = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            return n

    def samples(self) -> list[Sample]:
        """Every recorded run with its tokens by stage, oldest first."""
        query = ("SELECT r.run_id, r.status, r.sub_tickets, r.chain_depth, r.operations, "
                 "r.tokens, a.stage, sum(a.tokens) FROM runs r LEFT JOIN attempts a "
                 "USING (run_id) GROUP BY r.run_id, a.stage ORDER BY r.started_at, r.run_id")
        found: dict[str, Sample] = {}
        with self._connect() as db:
            for run_id, status, s, d, o, tokens, stage, spent in db.execute(query):
                if run_id not in found:
                    shape = Shape(s, d, o) if s is not None else None
                    found[run_id] = Sample(run_id, status, shape, tokens, {})
                if stage is not None:
                    found[run_id].stage_tokens[stage] = spent
        return list(found.values())

    def attempt_figures(self) -> dict[str, AttemptFigures]:
        """Each stage's median attempt in successful runs."""
        query = ("SELECT a.stage, a.input_tokens + a.cache_read_tokens + a.cache_write_tokens, "
                 "a.output_tokens, a.cache_read_tokens + a.cache_write_tokens FROM attempts a "
                 "JOIN runs r USING (run_id) WHERE r.status = ?")
        by_stage: dict[str, list[tuple[int, int, int]]] = {}
        with self._connect() as db:
            for stage, prompt, output, cached in db.execute(query, (SUCCESS,)):
                by_stage.setdefault(stage, []).append((prompt, output, cached))
        return {stage: AttemptFigures(
            len(rows), round(median(r[0] for r in rows)), round(median(r[1] for r in rows)),
            median(r[2] / r[0] if r[0] else 0.0 for r in rows)) for stage, rows in by_stage.items()}

    def latest_shape(self, ticket: str) -> tuple[str, Shape] | None:
        """The decomposition of ``ticket``'s latest recorded run that has one."""
        with self._connect() as db:
            row = db.execute("SELECT run_id, sub_tickets, chain_depth, operations FROM runs "
                             "WHERE ticket = ? AND sub_tickets IS NOT NULL "
                             "ORDER BY started_at DESC LIMIT 1", (ticket,)).fetchone()
        return (row[0], Shape(row[1], row[2], row[3])) if row else None


def _is_empty(db: sqlite3.Connection) -> bool:
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    app = db.execute("PRAGMA application_id").fetchone()[0]
    return bool(tables == 0 and app == 0)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _rows(state: Mapping[str, Any]) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """A run.json as a ``runs`` row and its ``attempts`` rows."""
    if state.get("status") == "running":
        raise RunRecordError(f"run {state.get('run_id')} has not finished (status running)")
    try:
        run_id = str(state["run_id"])
        attempts = [_attempt_row(run_id, seq, a) for seq, a in enumerate(state["attempts"], 1)]
        decomposition = state.get("decomposition")
        shape = Shape.of(decomposition).as_dict() if decomposition else {}
        run = (run_id, str(state["ticket"]["id"]), str(state["status"]), state.get("started_at"),
               state.get("ended_at"), *(shape.get(k) for k in FEATURES),
               sum(a[TOKENS] for a in attempts), round(sum(a[COST] for a in attempts), 6),
               (state.get("config") or {}).get("token_cap"),
               (state.get("calibration") or {}).get("effective_cap"), _now())
    except (KeyError, TypeError, ValueError) as exc:
        raise RunRecordError(f"not a harness run.json (missing or bad {exc})") from None
    return run, attempts


TOKENS, COST = 14, 15  # positions in an attempts row


def _attempt_row(run_id: str, seq: int, a: Mapping[str, Any]) -> tuple[Any, ...]:
    usage = a["usage"]
    return (run_id, seq, a["stage"], int(a["attempt"]), a["label"], a.get("vendor"),
            a.get("model"), a.get("tier"), a["outcome"], *(int(usage[k]) for k in USAGE_KEYS),
            int(a["tokens"]), float(a["cost_usd"]), a.get("duration_s"))
