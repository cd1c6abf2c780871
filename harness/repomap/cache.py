"""Facts by git blob id: a file parsed once is never parsed again, on any commit of any
repository that holds the same bytes. One SQLite file (WAL: concurrent runs of a batch share
it); without a directory, a cache in memory for the process's life."""

from __future__ import annotations

import marshal
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from harness.errors import RepoMapError
from harness.repomap.extract import EXTRACTOR_VERSION, FileFacts, Import, Symbol

_CHUNK = 500  # ids per query, below SQLite's bound-parameter limit


def cache_key(oid: str, language: str) -> str:
    return f"{oid}:{language}:{EXTRACTOR_VERSION}:m{marshal.version}"


class FactsCache:
    def __init__(self, directory: Path | None) -> None:
        self._memory: dict[str, FileFacts] = {}
        self._db: sqlite3.Connection | None = None
        if directory is None:
            return
        path = directory / "facts.sqlite"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, "
                             "data BLOB NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            raise RepoMapError(f"{path}: cannot use the repository map's cache ({exc}) — make "
                               "the directory writable or point HARNESS_HOME elsewhere") from exc

    def get_many(self, keys: Iterable[str]) -> dict[str, FileFacts]:
        wanted = [k for k in keys if k not in self._memory]
        found = {k: self._memory[k] for k in keys if k in self._memory}
        if self._db is None or not wanted:
            return found
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i:i + _CHUNK]
            rows = self._db.execute(
                f"SELECT key, data FROM facts WHERE key IN ({','.join('?' * len(chunk))})",
                chunk).fetchall()
            for key, data in rows:
                facts = _decode(data)
                self._memory[key] = facts
                found[key] = facts
        return found

    def put_many(self, facts: Mapping[str, FileFacts]) -> None:
        self._memory.update(facts)
        if self._db is None or not facts:
            return
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?)",
                                 [(k, _encode(v)) for k, v in facts.items()])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> FactsCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# marshal, not JSON: reading a commit's facts back is most of an incremental build, and
# marshal decodes these plain tuples and dicts several times faster. It never runs code; its
# format version is part of the key.
def _encode(f: FileFacts) -> bytes:
    return marshal.dumps((
        tuple((s.name, s.kind, s.line, s.signature, s.exported, s.parent) for s in f.symbols),
        tuple((i.spec, i.names, i.reexport) for i in f.imports),
        f.terms, f.lines, f.syntax_errors, f.skipped))


def _decode(data: bytes) -> FileFacts:
    symbols, imports, terms, lines, errors, skipped = marshal.loads(data)
    return FileFacts(tuple(Symbol(*s) for s in symbols), tuple(Import(*i) for i in imports),
                     terms, lines, errors, skipped)
