"""The import graph between the files of one commit, at the level of symbols where it can be.

``import { x } from "@scope/pkg"`` names the package's entry, usually a barrel that only
re-exports; an edge to the barrel would make every barrel a hub and say nothing about where
``x`` lives. So a named import is followed through re-exports (``export * from``, ``export { a
as b } from``) to the file that declares it; the edge goes there. Whole-module imports
(``import * as``, side effects, ``require``) keep their edge to the module itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping

from harness.repomap.extract import FileFacts
from harness.repomap.resolve import build_resolver

MAX_HOPS = 8  # re-export chains longer than this are not followed


def import_graph(files: Mapping[str, FileFacts], configs: Mapping[str, str]
                 ) -> dict[str, tuple[str, ...]]:
    """importer -> the files it imports, in first-use order. ``configs``: the text of every
    package.json and tsconfig/jsconfig file of the commit, by path."""
    manifests = {p: t for p, t in configs.items() if p.endswith("package.json")}
    tsconfigs = {p: t for p, t in configs.items() if not p.endswith("package.json")}
    resolver = build_resolver(files, manifests, tsconfigs)
    declared: dict[str, set[str]] = {}  # filled for the files named imports reach
    by_dir: dict[tuple[str, str], str | None] = {}  # a specifier means one file per directory

    def resolve(path: str, spec: str) -> str | None:
        key = (posixpath.dirname(path), spec)
        if key not in by_dir:
            by_dir[key] = resolver.resolve(path, spec)
        return by_dir[key]

    resolved = {path: [(i, resolve(path, i.spec)) for i in f.imports]
                for path, f in files.items()}
    memo: dict[tuple[str, str], str | None] = {}

    def provider(path: str, name: str, hops: int) -> str | None:
        """The file that declares ``name`` as exported from ``path``, through re-exports."""
        key = (path, name)
        if key in memo:
            return memo[key]
        memo[key] = None  # a cycle of re-exports ends here
        if path not in declared:
            declared[path] = {s.name for s in files[path].symbols if s.exported}
        found = path if name in declared[path] else None
        for imp, target in resolved.get(path, ()) if found is None and hops < MAX_HOPS else ():
            if not imp.reexport or target is None:
                continue
            if not imp.names:  # export * from
                found = provider(target, name, hops + 1) if name != "default" else None
            for entry in imp.names:
                original, _, alias = entry.partition(":")
                if (alias or original) == name:
                    found = target if original == "*" else (
                        provider(target, original, hops + 1) or target)
            if found is not None:
                break
        memo[key] = found
        return found

    graph: dict[str, tuple[str, ...]] = {}
    for path, imports in resolved.items():
        targets: list[str] = []
        for imp, target in imports:
            if target is None:
                continue
            if not imp.names or imp.reexport:
                targets.append(target)
                continue
            for name in imp.names:
                targets.append(provider(target, name, 0) or target)
        graph[path] = tuple(dict.fromkeys(t for t in targets if t != path))
    return graph
