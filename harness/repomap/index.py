"""The symbol index of one commit: every TypeScript/JavaScript file's facts and the import graph
between them, built from the object store (no checkout) and cached by blob id."""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from pathlib import Path

from harness.repomap.cache import FactsCache, cache_key
from harness.repomap.extract import FileFacts, extract, language_of
from harness.repomap.gitsource import Blob, list_blobs, read_blobs, resolve_commit
from harness.repomap.graph import import_graph

# Directories that hold installed or built code, never the repository's own sources.
SKIPPED_DIRS = frozenset({"node_modules", "bower_components", "dist", ".git", "coverage",
                          ".next", ".nuxt", ".turbo", ".yarn"})
_TEST_MARKERS = ("__tests__", "__test__", "__mocks__", "test", "tests", "spec", "e2e",
                 "__fixtures__", "fixtures")


@dataclass(frozen=True)
class BuildStats:
    files: int
    parsed: int  # files whose facts were not in the cache
    seconds: float


@dataclass(frozen=True)
class RepoIndex:
    commit: str
    files: dict[str, FileFacts]  # by path
    imports: dict[str, tuple[str, ...]]  # importer -> files it imports (resolved, in the index)
    stats: BuildStats

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files.values())


def is_test(path: str) -> bool:
    """A test, fixture or mock by the usual naming (``*.test.ts``, ``__tests__/``, ...)."""
    name = posixpath.basename(path)
    if ".test." in name or ".spec." in name or name.startswith(("test-", "test_")):
        return True
    return any(part in _TEST_MARKERS for part in path.split("/")[:-1])


def build_index(repo: Path, ref: str, cache: FactsCache) -> RepoIndex:
    """Index ``ref`` of ``repo`` (a work tree or a bare git directory). Raises RepoMapError."""
    started = time.perf_counter()
    commit = resolve_commit(repo, ref)
    code: list[tuple[Blob, str]] = []
    configs: list[Blob] = []
    for blob in list_blobs(repo, commit):
        parts = blob.path.split("/")
        if SKIPPED_DIRS.intersection(parts[:-1]):
            continue
        language = language_of(blob.path)
        if language is not None:
            code.append((blob, language))
        elif parts[-1] == "package.json" or (parts[-1].endswith(".json") and
                                             parts[-1].startswith(("tsconfig", "jsconfig"))):
            configs.append(blob)
    keys = {b.path: cache_key(b.oid, lang) for b, lang in code}
    known = cache.get_many(keys.values())
    missing = {keys[b.path]: (b.oid, lang) for b, lang in code if keys[b.path] not in known}
    contents = dict(read_blobs(repo, [oid for oid, _ in missing.values()]
                               + [c.oid for c in configs]))
    fresh = {key: extract(contents[oid], lang) for key, (oid, lang) in missing.items()}
    cache.put_many(fresh)
    known.update(fresh)
    files = {b.path: known[keys[b.path]] for b, _ in code}
    texts = {c.path: contents[c.oid].decode("utf-8", "replace") for c in configs}
    imports = import_graph(files, texts)
    stats = BuildStats(len(files), len(missing), round(time.perf_counter() - started, 3))
    return RepoIndex(commit, files, imports, stats)
