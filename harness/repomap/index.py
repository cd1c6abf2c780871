"""The symbol index of one commit: every TypeScript/JavaScript file's facts and the import graph
between them, built from the object store (no checkout) and cached by blob id."""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from pathlib import Path

from harness.repomap.cache import FactsCache, cache_key
from harness.repomap.exclude import exclude, rule_files
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
    excluded: tuple[tuple[str, int], ...] = ()  # (reason, files) left out as not the project's
    parse_errors: int = 0  # files with syntax the grammar rejects (symbols recovered per statement)


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
    code: list[Blob] = []
    configs: list[Blob] = []
    blobs = list_blobs(repo, commit)
    for blob in blobs:
        parts = blob.path.split("/")
        if SKIPPED_DIRS.intersection(parts[:-1]):
            continue
        if language_of(blob.path) is not None:
            code.append(blob)
        elif parts[-1] == "package.json" or (parts[-1].endswith(".json") and
                                             parts[-1].startswith(("tsconfig", "jsconfig"))):
            configs.append(blob)
    rules = rule_files(blobs)
    rule_data = dict(read_blobs(repo, [b.oid for b in rules]))
    rule_texts = {b.path: rule_data[b.oid].decode("utf-8", "replace") for b in rules}
    kept, excluded = exclude(code, blobs, rule_texts)
    langs = {b.path: language_of(b.path) or "javascript" for b in kept}
    keys = {b.path: cache_key(b.oid, langs[b.path]) for b in kept}
    known = cache.get_many(keys.values())
    missing = {keys[b.path]: (b.oid, langs[b.path]) for b in kept if keys[b.path] not in known}
    contents = dict(read_blobs(repo, [oid for oid, _ in missing.values()]
                               + [c.oid for c in configs]))
    fresh = {key: extract(contents[oid], lang) for key, (oid, lang) in missing.items()}
    cache.put_many(fresh)
    known.update(fresh)
    files: dict[str, FileFacts] = {}
    for b in kept:
        facts = known[keys[b.path]]
        if facts.skipped:  # minified, generated or too large, found from the bytes
            excluded[facts.skipped.split()[0].replace("larger", "large")] += 1
        else:
            files[b.path] = facts
    texts = {c.path: contents[c.oid].decode("utf-8", "replace") for c in configs}
    imports = import_graph(files, texts)
    stats = BuildStats(len(files), len(missing), round(time.perf_counter() - started, 3),
                       tuple((r, n) for r, n in excluded.items() if n),
                       sum(f.syntax_errors for f in files.values()))
    return RepoIndex(commit, files, imports, stats)
