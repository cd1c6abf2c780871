"""The tests a change affects, with no configuration: the runner's own notion of "related", asked
of the test command as written. jest: ``--findRelatedTests <files>``; vitest: ``vitest related
<files> --run``. Both follow the module graph from the changed files to the tests that import
them, across workspace packages. ``sandbox.affected_test_command`` stays the override.

Anything else (another runner, a command with shell operators, a change to a file outside the
module graph — a config, a snapshot, a fixture the tests read) gets None: the full suite."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from harness.sandbox.reporting import shell_command

# A file the runners' module graphs hold; a change to any other file may affect any test.
MODULE = re.compile(r"\.(?:[cm]?[jt]sx?|json)$")
# Prose no test reads: left out of the selection (a change of prose alone gets the full suite).
PROSE = re.compile(r"\.(?:md|mdx|markdown|txt|rst)$|(?:^|/)(?:LICENSE|LICENCE)[^/]*$", re.I)
_RUNNER = re.compile(r"^((?:npx (?:--no-install )?|pnpm (?:exec )?|yarn (?:run )?|bunx )?)"
                     r"(vitest|jest)(?:\s+(.*))?$")
_SCRIPT = re.compile(r"^(npm|pnpm|yarn)(?: run)? ([\w:.-]+)$")
_VITEST_OTHER = ("watch", "dev", "bench", "list", "typecheck", "init", "related")
_NO_TESTS = "--passWithNoTests"  # a change no test imports is not a failure


def related_command(command: str, scripts: dict[str, str], changed: Sequence[str]
                    ) -> str | None:
    """``command`` narrowed to the tests related to ``changed`` (paths relative to the
    workspace root, files that exist), or None when it cannot be narrowed safely."""
    command = command.strip()
    changed = [f for f in changed if not PROSE.search(f)]
    if not changed or not all(MODULE.search(f) for f in changed) or shell_command(command):
        return None
    files = " ".join(shlex.quote(f) for f in changed)
    direct = _direct(command, files)
    if direct is not None:
        return direct
    m = _SCRIPT.match(command)
    script = scripts.get(m[2]) if m and m[2] not in ("install", "ci", "exec", "run") else None
    if m is None or not isinstance(script, str) or shell_command(script.strip()):
        return None
    runner = _RUNNER.match(script.strip())
    if runner is None or runner[1]:
        return None
    if runner[2] == "jest":  # the script's own arguments stay; ours are passed on to it
        return f"{command} {'-- ' if m[1] == 'npm' else ''}{_NO_TESTS} --findRelatedTests {files}"
    exec_ = {"npm": "npx --no-install", "pnpm": "pnpm exec", "yarn": "yarn"}[m[1]]
    return _direct(f"{exec_} {script.strip()}", files)


def _direct(command: str, files: str) -> str | None:
    m = _RUNNER.match(command)
    if m is None or "--watch" in command:
        return None
    prefix, runner, rest = m[1], m[2], (m[3] or "").strip()
    if runner == "jest":
        return f"{command} {_NO_TESTS} --findRelatedTests {files}"
    first, _, after = rest.partition(" ")
    if first in _VITEST_OTHER:
        return None
    rest = after if first == "run" else rest
    return " ".join(p for p in (f"{prefix}vitest related --run {_NO_TESTS}", rest, files) if p)
