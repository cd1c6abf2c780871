"""What the claude-cli vendor runs in the container: the session's files, the ``claude`` command
line and its environment, all derived from one ``ModelRequest``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import VendorError
from harness.vendors import cli_session
from harness.vendors.cli_mcp import claude_mcp_config
from harness.vendors.types import ModelRequest

if TYPE_CHECKING:  # claude_cli imports this module
    from harness.vendors.claude_cli import ClaudeCliOptions

# Sent as ``python3 -I -c`` source: the container has Python (the exec supervisor needs it).
WATCH_SOURCE = Path(__file__).with_name("claude_cli_watch.py").read_text(encoding="utf-8")
# Under /tmp and never /workspace: /workspace is the host's run directory, and the CLI's config
# dir is where it could remember a key.
SESSION_ROOT = "/tmp/harness-claude"
PERMISSION_DEFAULT = "bypassPermissions"  # the container is the boundary; uid 1000, not root
# The CLI's own credential variables: an API key (x-api-key), a gateway's bearer token, and a
# subscription's token from ``claude setup-token``. A key under any other name is an API key.
CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")


@dataclass(frozen=True)
class Session:
    """One call's private directory in the container, removed by the watcher at the end."""

    dir: str
    marker: str

    @classmethod
    def new(cls) -> Session:
        token = uuid.uuid4().hex
        return cls(f"{SESSION_ROOT}-{token[:12]}", f"harness-claude-{token}")

    @property
    def prompt(self) -> str:
        return f"{self.dir}/prompt.txt"

    @property
    def system(self) -> str:
        return f"{self.dir}/system.txt"


SUBDIRS = ("home", "config", "tmp")


def stage_commands(session: Session, files: Mapping[str, str]) -> Iterator[list[str]]:
    """The execs that create the session directory and write ``files`` into it."""
    return cli_session.stage_commands(session.dir, SUBDIRS, files)


def claude_argv(request: ModelRequest, options: ClaudeCliOptions, session: Session,
                vendor: str) -> list[str]:
    """``claude -p`` for this request; the prompt itself comes on stdin."""
    settings = request.settings
    argv = ["claude", "-p", "--output-format", "stream-json", "--verbose",
            "--model", settings.model_id, "--no-session-persistence",
            "--permission-mode", options.permission_mode or PERMISSION_DEFAULT]
    control = settings.control
    if control is not None:
        if control.name not in ("--effort", "--max-thinking-tokens"):
            raise VendorError(vendor, f"cannot pass the control `{control}` to the claude CLI")
        argv += [control.name, str(control.value)]
    if options.max_turns is not None:
        argv += ["--max-turns", str(options.max_turns)]
    if options.allowed_tools:
        argv += ["--allowedTools", ",".join(options.allowed_tools)]
    if request.system:
        argv += ["--append-system-prompt-file", session.system]
    if request.output_schema is not None:
        argv += ["--json-schema", json.dumps(dict(request.output_schema))]
    if request.mcp_servers:  # only the stage's servers, none from the user's settings
        argv += ["--mcp-config", json.dumps(claude_mcp_config(request.mcp_servers)),
                 "--strict-mcp-config"]
    return argv


def claude_env(request: ModelRequest, session: Session, key: str,
               base_url: str | None) -> dict[str, str]:
    """The environment of this exec only: nothing here is written to a file."""
    named = request.settings.api_key_env
    env = {
        named if named in CREDENTIAL_VARS else "ANTHROPIC_API_KEY": key,
        # The stage's max_output_tokens (the CLI has no flag for it).
        "CLAUDE_CODE_MAX_OUTPUT_TOKENS": str(request.settings.max_output_tokens),
        "HOME": f"{session.dir}/home",
        "CLAUDE_CONFIG_DIR": f"{session.dir}/config",
        "CLAUDE_CODE_TMPDIR": f"{session.dir}/tmp",
        "TMPDIR": f"{session.dir}/tmp",
        # No telemetry, error reports, update checks or feature-flag fetches: the API only.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        # bypassPermissions refuses to start as root unless told it is sandboxed.
        "IS_SANDBOX": "1",
    }
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    return env


def watch_command(argv: list[str], session: Session, seconds: float) -> list[str]:
    spec = {"argv": argv, "stdin": session.prompt, "dir": session.dir, "seconds": seconds,
            "marker": session.marker}
    return ["python3", "-I", "-c", WATCH_SOURCE, json.dumps(spec)]
