"""Asking a known runner for a machine-readable report alongside its usual output.

When the test command is a plain invocation of vitest or jest — directly (``npx vitest run``) or
through a package script that is one (``npm test`` with ``"test": "vitest run"``) — the harness
adds the runner's own flags for a report file (vitest: JUnit next to the default reporter; jest:
``--json --outputFile``, its default reporter still prints). The report lists every test, passing
ones included, so a fail-to-pass test is seen to pass even when another test fails. Anything
else (shell operators, a reporter already chosen, another runner) runs exactly as written: node's
TAP and spec output and node-tap's TAP list every test already."""

from __future__ import annotations

import json
import re
import shlex
import uuid
from dataclasses import dataclass

from harness.sandbox.base import Sandbox

_SUBSTITUTION = re.compile(r"`|\$\(")
_DIRECT = re.compile(r"^(?:npx (?:--no-install )?|pnpm (?:exec )?|yarn (?:run )?|bunx )?"
                     r"(vitest|jest)(?:\s|$)")
_SCRIPT = re.compile(r"^(npm|pnpm|yarn)(?: run)? (test|[\w:.-]+)$")
# Prints every file of a directory as {name: text} and removes the directory.
_READ = "\n".join([
    "import json, os, shutil, sys",
    "d = sys.argv[1]",
    "names = sorted(os.listdir(d)) if os.path.isdir(d) else []",
    "out = {n: open(os.path.join(d, n), errors='replace').read() for n in names}",
    "shutil.rmtree(d, ignore_errors=True)",
    "print(json.dumps(out))"])


@dataclass(frozen=True)
class Instrumented:
    command: str
    report_dir: str | None = None  # where the runner writes its report, if it was asked to


def instrument(command: str, scripts: dict[str, str]) -> Instrumented:
    """``command`` with a report asked for, when the runner is known; else unchanged."""
    command = command.strip()
    directory = f"/tmp/harness-report-{uuid.uuid4().hex[:8]}"
    made = f"mkdir -p {directory} && "  # jest writes its --outputFile only into a directory
    direct = _flags(command, directory)
    if direct is not None:
        return Instrumented(f"{made}{command} {direct}", directory)
    m = _SCRIPT.match(command)
    script = scripts.get(m[2]) if m and m[2] not in ("install", "ci", "exec", "run") else None
    flags = _flags(script.strip(), directory) if isinstance(script, str) else None
    if m is None or flags is None:
        return Instrumented(command)
    # npm passes arguments on after "--"; pnpm and yarn pass them as they are.
    return Instrumented(f"{made}{command} {'-- ' if m[1] == 'npm' else ''}{flags}", directory)


def shell_command(command: str) -> bool:
    """Whether ``command`` is more than one simple command: an operator outside quotes (;, &&,
    |, >, ...), a substitution, or quotes that do not close."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    try:
        tokens = list(lexer)
    except ValueError:
        return True
    return bool(_SUBSTITUTION.search(command)) or any(
        t and all(c in "();<>|&" for c in t) for t in tokens)


def _flags(command: str, directory: str) -> str | None:
    m = _DIRECT.match(command)
    if m is None or shell_command(command) or "--reporter" in command or "--json" in command \
            or "--outputFile" in command or "--watch" in command:
        return None
    if m[1] == "vitest":
        return ("--reporter=default --reporter=junit "
                f"--outputFile.junit={shlex.quote(directory + '/vitest.xml')}")
    return f"--json --outputFile={shlex.quote(directory + '/jest.json')}"


def collect(sandbox: Sandbox, run: Instrumented) -> dict[str, str]:
    """The report files the runner wrote (none when it wrote none), removed from the sandbox."""
    if run.report_dir is None:
        return {}
    result = sandbox.exec(["python3", "-c", _READ, run.report_dir], timeout=60)
    try:
        found = json.loads(result.stdout.strip().rsplit("\n", 1)[-1] or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def scripts_of(sandbox: Sandbox) -> dict[str, str]:
    """The root package.json's scripts (empty when there is none or it does not parse)."""
    try:
        data = json.loads(sandbox.read_file("package.json"))
    except (OSError, ValueError, PermissionError):
        return {}
    scripts = data.get("scripts") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in scripts.items()} if isinstance(scripts, dict) else {}
