"""What the claude-cli vendor runs in the container for one session: the ``claude`` command line,
its environment and the egress route it reaches the API by, all derived from one
``ModelRequest``, and the watcher (``sandbox/claude_watch.py``) that runs it."""

from __future__ import annotations

import json

from harness.resources import bundled
from harness.vendors.claude_cli.options import ClaudeCliOptions
from harness.vendors.claude_cli.session import Session
from harness.vendors.cli_mcp import claude_mcp_config, mcp_passthrough
from harness.vendors.egress import (
    ANTHROPIC_FETCH_BETAS,
    PLACEHOLDER_KEY,
    anthropic_screen,
    anthropic_tap,
)
from harness.vendors.errors import VendorError
from harness.vendors.types import EgressRoute, ModelRequest

# In-container code (sandbox/README.md), sent as ``python3 -I -c`` source: the container has
# Python (the exec supervisor needs it).
WATCH_SOURCE = bundled("sandbox/claude_watch.py").read_text(encoding="utf-8")
PERMISSION_DEFAULT = "bypassPermissions"  # the container is the boundary; uid 1000, not root
ANTHROPIC_API_URL = "https://api.anthropic.com"  # the CLI's own default
# Credentials sent as a bearer token: a gateway's, and a subscription's from ``claude
# setup-token`` (with the beta header the API wants for it). Any other name holds an API key.
BEARER_VARS = ("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
OAUTH_BETA = "oauth-2025-04-20"
# What the CLI calls with nonessential traffic off: the Messages API and a reachability probe.
API_CALLS = (("POST", r"/v1/messages"), ("POST", r"/v1/messages/count_tokens"),
             ("HEAD", r"/api/hello"), ("GET", r"/api/hello"))
NO_MCP = json.dumps({"mcpServers": {}})
# The CLI's tools that write files; a read-only stage runs without them (Bash stays: the
# Debugger reproduces failures with it, and the pipeline checks the workspace afterwards).
WRITE_TOOLS = ("Edit", "MultiEdit", "Write", "NotebookEdit")


def claude_argv(request: ModelRequest, options: ClaudeCliOptions, session: Session,
                vendor: str) -> list[str]:
    """``claude -p`` for this request; the prompt itself comes on stdin."""
    settings = request.settings
    # No setting sources: nothing from the repository's .claude/ (hooks, env overrides of the
    # base URL, permissions, plugins) or from the session's config dir; only the image's
    # managed settings (hooks off, which nothing can turn back on) and these flags apply. Not
    # --bare: it would also take the Write, Glob and Grep tools away.
    argv = ["claude", "-p", "--setting-sources=", "--output-format", "stream-json", "--verbose",
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
    if request.read_only:
        argv += ["--disallowedTools", ",".join(WRITE_TOOLS)]
    if request.system:
        argv += ["--append-system-prompt-file", session.system]
    if request.output_schema is not None:
        argv += ["--json-schema", json.dumps(dict(request.output_schema))]
    # Only the stage's MCP servers: none from the repository's .mcp.json or any settings.
    config = json.dumps(claude_mcp_config(request.mcp_servers)) if request.mcp_servers else NO_MCP
    return [*argv, "--mcp-config", config, "--strict-mcp-config"]


def claude_route(request: ModelRequest, key: str, upstream: str | None,
                 vendor: str) -> EgressRoute:
    """What the egress proxy forwards for a session: the Messages API at the stage's endpoint,
    with the real credential set on the host, and the stage's MCP servers given by URL; never
    a call that makes the API fetch a URL for the container."""
    key_env = request.settings.api_key_env
    bearer = key_env in BEARER_VARS
    return EgressRoute(
        vendor, upstream or ANTHROPIC_API_URL,
        {"Authorization": f"Bearer {key}"} if bearer else {"x-api-key": key}, API_CALLS,
        anthropic_tap,
        append={"anthropic-beta": OAUTH_BETA} if key_env == "CLAUDE_CODE_OAUTH_TOKEN" else {},
        passthrough=mcp_passthrough(request.mcp_servers), screen=anthropic_screen,
        drop_values={"anthropic-beta": ANTHROPIC_FETCH_BETAS})


def claude_env(request: ModelRequest, session: Session, base_url: str) -> dict[str, str]:
    """The environment of this exec only. The key is a placeholder: the proxy at ``base_url``
    holds the real one."""
    return {
        "ANTHROPIC_API_KEY": PLACEHOLDER_KEY,
        "ANTHROPIC_BASE_URL": base_url,
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


def watch_command(argv: list[str], session: Session, seconds: float) -> list[str]:
    spec = {"argv": argv, "stdin": session.prompt, "dir": session.dir, "seconds": seconds,
            "marker": session.marker}
    return ["python3", "-I", "-c", WATCH_SOURCE, json.dumps(spec)]
