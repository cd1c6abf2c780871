"""Import specifiers -> files of the same commit: relative paths, tsconfig ``paths`` and
``baseUrl``, and the names of the workspace's own packages (``@scope/pkg``, ``@scope/pkg/sub``).

Resolution follows what TypeScript and bundlers do closely enough to draw the graph: extension
probing (``./a`` -> ``a.ts``, ``a/index.tsx``; ``./a.js`` -> ``a.ts`` under ESM), a package's
entry from ``exports``/``types``/``main`` mapped from its build directory back to ``src``. A
specifier that names a package outside the workspace resolves to nothing (it is not our code).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

EXTENSIONS = (".ts", ".tsx", ".d.ts", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}
_BUILD_DIRS = ("dist", "lib", "build", "out", "esm", "cjs", "types")
_JSONC = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.S)
_TRAILING_COMMA = re.compile(r'("(?:\\.|[^"\\])*")|,(?=\s*[}\]])')


def loads_jsonc(text: str) -> Any:
    """JSON with comments and trailing commas (tsconfig files); raises ValueError."""
    text = _JSONC.sub(lambda m: m.group(1) or "", text)
    return json.loads(_TRAILING_COMMA.sub(lambda m: m.group(1) or "", text))


@dataclass(frozen=True)
class Package:
    name: str
    root: str  # directory relative to the repository root ("" for the root package)
    manifest: Mapping[str, Any]


@dataclass(frozen=True)
class PathMap:
    """A tsconfig's effective ``paths``, with targets already relative to the repository."""

    patterns: tuple[tuple[str, tuple[str, ...]], ...]
    base: str | None  # baseUrl, relative to the repository root


@dataclass
class Resolver:
    files: frozenset[str]
    packages: tuple[Package, ...] = ()
    tsconfigs: Mapping[str, PathMap] = field(default_factory=dict)  # by directory
    _nearest: dict[str, PathMap | None] = field(default_factory=dict)

    def resolve(self, importer: str, spec: str) -> str | None:
        if spec.startswith(("./", "../")) or spec in (".", ".."):
            return self.probe(_join(posixpath.dirname(importer), spec))
        if spec.startswith("/") or ":" in spec.split("/", 1)[0]:
            return None  # absolute paths and URL-like specifiers (node:fs, http:...)
        config = self._config_for(posixpath.dirname(importer))
        if config is not None:
            found = self._through_paths(config, spec)
            if found is not None:
                return found
        found = self._through_package(spec)
        if found is None and config is not None and config.base is not None:
            found = self.probe(_join(config.base, spec))
        return found

    def probe(self, base: str) -> str | None:
        """The file an extension-less (or .js-for-.ts) module path means."""
        if base in self.files and not base.endswith(".json"):
            return base
        stem, ext = posixpath.splitext(base)
        for alt in _JS_TO_TS.get(ext, ()):
            if stem + alt in self.files:
                return stem + alt
        for candidate in (base, f"{base}/index" if base else "index"):
            for e in EXTENSIONS:
                if candidate + e in self.files:
                    return candidate + e
        return None

    def _config_for(self, directory: str) -> PathMap | None:
        if directory in self._nearest:
            return self._nearest[directory]
        found = self.tsconfigs.get(directory)
        if found is None and directory:
            found = self._config_for(posixpath.dirname(directory))
        self._nearest[directory] = found
        return found

    def _through_paths(self, config: PathMap, spec: str) -> str | None:
        for pattern, targets in config.patterns:
            star = _match(pattern, spec)
            if star is None:
                continue
            for target in targets:
                found = self.probe(target.replace("*", star, 1))
                if found is not None:
                    return found
        return None

    def _through_package(self, spec: str) -> str | None:
        for pkg in self.packages:  # longest names first, so @a/b-c wins over @a/b
            if spec == pkg.name:
                return self._entry(pkg, ".")
            if spec.startswith(pkg.name + "/"):
                return self._entry(pkg, "./" + spec[len(pkg.name) + 1:])
        return None

    def _entry(self, pkg: Package, subpath: str) -> str | None:
        targets = list(_export_targets(pkg.manifest.get("exports"), subpath))
        if subpath == ".":
            targets += [pkg.manifest[k] for k in ("source", "types", "typings", "module", "main")
                        if isinstance(pkg.manifest.get(k), str)]
            targets += ["src/index", "index"]
        else:
            targets += [subpath, "src/" + subpath[2:]]
        for target in targets:
            for path in _source_guesses(_join(pkg.root, target)):
                found = self.probe(path)
                if found is not None:
                    return found
        return None


def build_resolver(files: Iterable[str], manifests: Mapping[str, str],
                   tsconfigs: Mapping[str, str]) -> Resolver:
    """``manifests``: package.json path -> text; ``tsconfigs``: tsconfig/jsconfig path -> text.
    Unreadable ones are skipped (a broken manifest must not stop the map)."""
    packages = []
    for path, text in manifests.items():
        data = _parse(text)
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            packages.append(Package(data["name"], posixpath.dirname(path), data))
    packages.sort(key=lambda p: -len(p.name))
    parsed = {path: _parse(text) for path, text in tsconfigs.items()}
    configs = {}
    for path in parsed:
        if posixpath.basename(path) in ("tsconfig.json", "jsconfig.json"):
            directory = posixpath.dirname(path)
            found = _path_map(path, parsed, depth=0)
            if found is not None and (directory not in configs
                                      or posixpath.basename(path) == "tsconfig.json"):
                configs[directory] = found
    return Resolver(frozenset(files), tuple(packages), configs)


def _parse(text: str) -> Any:
    try:
        return loads_jsonc(text)
    except ValueError:
        return None


def _path_map(path: str, parsed: Mapping[str, Any], depth: int) -> PathMap | None:
    """The paths and baseUrl in force for one tsconfig, following relative ``extends``."""
    data = parsed.get(path)
    if not isinstance(data, dict) or depth > 8:
        return None
    inherited = PathMap((), None)
    extends = data.get("extends")
    for parent in [extends] if isinstance(extends, str) else extends or []:
        if isinstance(parent, str) and parent.startswith("."):
            target = _join(posixpath.dirname(path), parent)
            target = target if target.endswith(".json") else target + ".json"
            inherited = _path_map(target, parsed, depth + 1) or inherited
    options = data.get("compilerOptions")
    options = options if isinstance(options, dict) else {}
    here = posixpath.dirname(path)
    base = _join(here, options["baseUrl"]) if isinstance(options.get("baseUrl"), str) else (
        inherited.base)
    paths = options.get("paths")
    if not isinstance(paths, dict):
        return PathMap(inherited.patterns, base)
    root = base if base is not None else here  # TS 4.1+: paths relative to their tsconfig
    patterns = tuple((k, tuple(_join(root, t) for t in v if isinstance(t, str)))
                     for k, v in paths.items() if isinstance(v, list))
    return PathMap(tuple(sorted(patterns, key=lambda p: -len(p[0]))), base)


def _match(pattern: str, spec: str) -> str | None:
    if "*" not in pattern:
        return "" if pattern == spec else None
    head, _, tail = pattern.partition("*")
    if spec.startswith(head) and spec.endswith(tail) and len(spec) >= len(head) + len(tail):
        return spec[len(head):len(spec) - len(tail)]
    return None


def _export_targets(exports: Any, subpath: str) -> Iterable[str]:
    """Targets of ``exports`` for a subpath; conditions in any order, nested."""
    if isinstance(exports, str):
        if subpath == ".":
            yield exports
        return
    if not isinstance(exports, dict):
        return
    if not any(k.startswith(".") for k in exports):  # conditions for "." only
        if subpath == ".":
            yield from _condition_targets(exports)
        return
    for key, value in exports.items():
        star = _match(key, subpath)
        if star is not None:
            for target in _condition_targets(value):
                yield target.replace("*", star)


def _condition_targets(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _condition_targets(v)
    elif isinstance(value, list):
        for v in value:
            yield from _condition_targets(v)


def _source_guesses(path: str) -> list[str]:
    """A built entry (``dist/index.js``, ``lib/esm/x.d.ts``) and where its source likely is."""
    stem = path
    for suffix in (".d.ts", ".d.mts", ".d.cts", ".js", ".mjs", ".cjs", ".ts"):
        if stem.endswith(suffix):
            stem = stem[:-len(suffix)]
            break
    guesses = [path, stem]
    parts = stem.split("/")
    for i, part in enumerate(parts):
        if part in _BUILD_DIRS:
            rest = [p for p in parts[i + 1:] if p not in _BUILD_DIRS]
            guesses += ["/".join([*parts[:i], "src", *rest]), "/".join([*parts[:i], *rest])]
            break
    return guesses


def _join(directory: str, relative: str) -> str:
    joined = posixpath.normpath(posixpath.join(directory, relative))
    return "" if joined == "." else joined
