"""The tests a change affects in a workspace monorepo, with no configuration: when the test command
runs a script across the workspace from its root, the same command narrowed by the package
manager's own filter to the workspace packages the change touched (pnpm: and the packages that
depend on them — pnpm follows its own dependency graph, in the container).

  pnpm ``pnpm -r [...] run X``              -> ``pnpm --filter '...{./<pkg>}' -r [...] run X``
  npm  ``npm run X --workspaces`` (``-ws``)  -> ``npm run X -w <pkg>`` (npm has no dependents
       filter: the changed packages only; the full suite before acceptance covers the rest)
  yarn ``yarn workspaces foreach [...] run X`` -> ``... --include <name>`` (the same)

A root script that is one of these (``pnpm test`` with ``"test": "pnpm -r test"``) is narrowed
as the script's own command. A package is the nearest directory above a changed file holding a
package.json, below the root; a change outside every package (a root config, the lockfile) may
affect any test, and gets None: the full suite.

The repository is hostile: its files are looked at through the sandbox's workspace view (no
symlink out of the checkout is followed, reads are capped), a package.json that leads outside,
is too large or does not parse gets None, and every word put on the command line is quoted."""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Sequence

from harness.errors import PathOutsideWorkspaceError
from harness.sandbox.affected import PROSE
from harness.sandbox.base import Sandbox
from harness.sandbox.reporting import shell_command

MANIFEST_LIMIT = 1 << 20  # bytes of a workspace package's package.json read for its name
MAX_PACKAGES = 50  # more changed packages than this: the full suite is as cheap to ask for
_NAME = re.compile(r"^(?:@[a-z0-9~][\w.~-]*/)?[a-z0-9~][\w.~-]*$")
_SCRIPT = re.compile(r"^(npm|pnpm|yarn)(?: run)? ([\w:.-]+)$")
_CHOSEN = ("--filter", "-F", "--filter-prod", "--include", "--exclude", "--since", "--from",
           "-w", "--workspace")


def workspace_command(command: str, scripts: dict[str, str], sandbox: Sandbox,
                      changed: Sequence[str]) -> str | None:
    """``command`` narrowed to the workspace packages ``changed`` touches (and, with pnpm, their
    dependents), or None when it is no workspace command or cannot be narrowed safely."""
    command = command.strip()
    if shell_command(command):
        return None
    kind = _kind(command)
    if kind is None:
        m = _SCRIPT.match(command)
        script = scripts.get(m[2]) if m and m[2] not in ("install", "ci", "exec", "run") else None
        if not isinstance(script, str) or shell_command(script.strip()):
            return None
        command = script.strip()
        kind = _kind(command)
    if kind is None:
        return None
    packages = changed_packages(sandbox, changed)
    if not packages:
        return None
    if kind == "pnpm":
        filters = " ".join(f"--filter {shlex.quote('...{./' + p + '}')}" for p in packages)
        return f"pnpm {filters} {command.removeprefix('pnpm').strip()}"
    if kind == "npm":
        chosen = " ".join(f"-w {shlex.quote(p)}" for p in packages)
        kept = [t for t in shlex.split(command) if t not in ("--workspaces", "-ws", "--ws")]
        return f"{shlex.join(kept)} {chosen}"
    names = [_name_of(sandbox, p) for p in packages]
    if any(n is None for n in names):
        return None
    include = " ".join(f"--include {shlex.quote(str(n))}" for n in names)
    return f"yarn workspaces foreach {include} {command.split(None, 3)[3]}"


def changed_packages(sandbox: Sandbox, changed: Sequence[str]) -> list[str] | None:
    """The workspace package directories of ``changed`` (prose left out), or None when a file
    lies outside every package or a package.json on the way leads outside the checkout."""
    packages: set[str] = set()
    for path in changed:
        if PROSE.search(path):
            continue
        found = package_of(sandbox, path)
        if found is None:
            return None
        packages.add(found)
    return sorted(packages) if 0 < len(packages) <= MAX_PACKAGES else None


def _kind(command: str) -> str | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if any(w in _CHOSEN or w.startswith(tuple(f"{c}=" for c in _CHOSEN)) for w in words):
        return None  # the user already chose the packages
    if words[:1] == ["pnpm"] and any(w in ("-r", "--recursive") for w in words):
        return "pnpm"
    if words[:1] == ["npm"] and any(w in ("--workspaces", "-ws", "--ws") for w in words):
        return "npm"
    if words[:3] == ["yarn", "workspaces", "foreach"] and len(words) > 3:
        return "yarn"
    return None


def package_of(sandbox: Sandbox, path: str) -> str | None:
    """The nearest directory above ``path``, below the root, that holds a package.json; None
    when there is none or one on the way is a symlink out of the checkout."""
    directory = posixpath.dirname(posixpath.normpath(path))
    while directory and directory not in (".", "/") and not directory.startswith(".."):
        try:
            if sandbox.exists(posixpath.join(directory, "package.json")):
                return directory
        except PathOutsideWorkspaceError:  # a package.json that leads out: trust nothing here
            return None
        directory = posixpath.dirname(directory)
    return None


def _name_of(sandbox: Sandbox, package: str) -> str | None:
    """The package's name from its package.json, read as hostile data: capped, parsed as JSON
    only, and kept only when it is a valid package name."""
    try:
        raw = sandbox.read_bytes(f"{package}/package.json")
        data = json.loads(raw) if len(raw) <= MANIFEST_LIMIT else None
    except (OSError, ValueError):  # missing, outside, over the read limit, not JSON
        return None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) and _NAME.match(name) else None
