"""What is not the project's own code, left out of the map's candidates, each reason counted.

Read from the commit alone (the map never looks at a working tree): committed files that the
commit's own ``.gitignore`` files ignore, ``linguist-vendored`` / ``linguist-generated`` paths
from the commit's ``.gitattributes`` blobs, very large files, lockfile-like code (Yarn's
``.pnp.cjs``), well-known generated files, and second copies of an identical blob (the same
``mockServiceWorker.js`` in every example). Minified and ``@generated`` files are found later,
from their bytes (``extract``).
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from harness.repomap.gitglob import Glob
from harness.repomap.gitsource import Blob

LARGE_BYTES = 512_000  # hand-written sources stay below; bundles and transformers do not
LOCKFILES = frozenset({".pnp.cjs", ".pnp.js", ".pnp.loader.mjs", "package-lock.json",
                       "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
                       "bun.lock", "deno.lock"})
GENERATED_NAMES = frozenset({"mockServiceWorker.js"})  # written by `msw init`, never edited
_SAMPLE_DIRS = frozenset({"examples", "example", "samples", "sample", "demo", "demos",
                          "playground", "fixtures", "__fixtures__", "docs", "website"})
# A rule file is the repository's, so hostile: patterns match in linear time (gitglob), and
# these bound the work (longer patterns and further rules are ignored).
MAX_PATTERN, MAX_RULES = 200, 2_000
REASONS = ("ignored", "vendored", "generated", "large", "minified", "lockfile", "duplicate")


@dataclass(frozen=True)
class Rule:
    base: str  # the rule file's directory with a slash, or ""
    name_only: bool  # no slash in the pattern: it matches a name at any depth
    glob: Glob
    literal: str | None  # the pattern when it has no wildcard (a plain comparison)
    negated: bool
    dir_only: bool
    attrs: tuple[tuple[str, bool], ...] = ()  # (attribute, set) for .gitattributes

    def covers(self, path: str, ancestors: bool) -> bool:
        """Whether the rule matches the file at ``path`` or (``ancestors``) a directory
        holding it."""
        if not path.startswith(self.base):
            return False
        parts = path[len(self.base):].split("/")
        if self.name_only:
            names = parts[:-1] if ancestors else []
            names += [] if self.dir_only else parts[-1:]
            return any(n == self.literal if self.literal is not None else
                       self.glob.fullmatch(n) for n in names)
        tried = ["/".join(parts[:i]) for i in range(1, len(parts))] if ancestors else []
        tried += [] if self.dir_only else ["/".join(parts)]
        return any(self.glob.fullmatch(t) for t in tried)


def rule_files(blobs: Iterable[Blob]) -> list[Blob]:
    """The commit's .gitignore and .gitattributes blobs, shallowest first."""
    found = [b for b in blobs if posixpath.basename(b.path) in (".gitignore", ".gitattributes")]
    return sorted(found, key=lambda b: (b.path.count("/"), b.path))


def _rule(directory: str, pattern: str, attrs: tuple[tuple[str, bool], ...] = ()
          ) -> Rule | None:
    while "**/**/" in pattern:
        pattern = pattern.replace("**/**/", "**/")
    if len(pattern) > MAX_PATTERN:
        return None
    negated = pattern.startswith("!")
    pattern = pattern[1:] if negated else pattern
    dir_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    pattern, name_only = pattern.lstrip("/"), "/" not in pattern
    literal = None if any(c in pattern for c in "*?[") else pattern
    return Rule(directory + "/" if directory else "", name_only, Glob.compile(pattern),
                 literal, negated, dir_only, attrs)


def parse_rules(path: str, text: str) -> list[Rule]:
    directory = posixpath.dirname(path)
    rules: list[Rule] = []
    attributes = path.endswith(".gitattributes")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if len(rules) >= MAX_RULES:
            break
        if not attributes:
            rule = _rule(directory, line)
            rules += [rule] if rule else []
            continue
        pattern, *fields = line.split()
        attrs = tuple((f.lstrip("-!").split("=")[0], not f.startswith(("-", "!")) and
                       f.split("=", 1)[-1].lower() not in ("false", "0")) for f in fields
                      if f.lstrip("-!").split("=")[0] in ("linguist-vendored",
                                                            "linguist-generated"))
        rule = _rule(directory, pattern, attrs) if attrs else None
        rules += [rule] if rule else []
    return rules


def ignored(path: str, rules: Sequence[Rule]) -> bool:
    """Whether ``rules`` (outer files first) leave the file at ``path`` out: the last rule that
    covers it or a directory holding it decides."""
    verdict = False
    for rule in rules:
        if rule.covers(path, ancestors=True):
            verdict = not rule.negated
    return verdict


def _attribute(path: str, rules: Sequence[Rule], name: str) -> bool:
    verdict = False
    for rule in rules:
        for attr, value in rule.attrs:
            if attr == name and rule.covers(path, ancestors=False):
                verdict = value
    return verdict


def _copy_order(path: str) -> tuple[int, int, str]:
    """Which copy of an identical blob stays: outside sample trees, then the shallowest."""
    sample = any(part in _SAMPLE_DIRS for part in path.split("/")[:-1])
    return (int(sample), path.count("/"), path)


def exclude(code: Sequence[Blob], all_blobs: Sequence[Blob], rule_texts: Mapping[str, str]
            ) -> tuple[list[Blob], Counter[str]]:
    """The candidate code blobs that are the project's own, and why the others are not."""
    counts: Counter[str] = Counter()
    counts["lockfile"] = sum(posixpath.basename(b.path) in LOCKFILES for b in all_blobs)
    ignore = [r for p, t in rule_texts.items() if p.endswith(".gitignore")
              for r in parse_rules(p, t)]
    attributes = [r for p, t in rule_texts.items() if p.endswith(".gitattributes")
                  for r in parse_rules(p, t)]
    kept: list[Blob] = []
    for blob in code:
        name = posixpath.basename(blob.path)
        if name in LOCKFILES:
            continue  # counted above
        reason = ("large" if blob.size > LARGE_BYTES else
                  "minified" if name.endswith((".min.js", ".min.mjs", ".min.cjs")) else
                  "generated" if name in GENERATED_NAMES or
                  _attribute(blob.path, attributes, "linguist-generated") else
                  "vendored" if _attribute(blob.path, attributes, "linguist-vendored") else
                  "ignored" if ignore and ignored(blob.path, ignore) else None)
        if reason is None:
            kept.append(blob)
        else:
            counts[reason] += 1
    first: dict[str, Blob] = {}
    for blob in sorted(kept, key=lambda b: _copy_order(b.path)):
        if blob.oid in first and blob.size > 0:
            counts["duplicate"] += 1
        else:
            first.setdefault(blob.oid, blob)
    unique = {id(b) for b in first.values()} | {id(b) for b in kept if b.size == 0}
    return [b for b in kept if id(b) in unique], counts


def describe(counts: Mapping[str, int]) -> str:
    """``3 vendored, 12 duplicate`` (reasons with a count), or ``none``."""
    shown = [f"{counts[r]} {r}" for r in REASONS if counts.get(r)]
    return ", ".join(shown) or "none"
