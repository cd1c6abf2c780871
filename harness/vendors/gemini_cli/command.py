"""What the gemini-cli vendor runs in the container for one session: the ``gemini`` command
line, its environment, its settings.json and the egress route it reaches the API by, all derived
from one ``ModelRequest`` (the session's directory: ``session``). Nothing the session starts
outlives its exec (the exec supervisor kills every other process when it ends); its directory
goes when the next session is staged.

Facts about the pinned CLI (@google/gemini-cli 0.61.0) this relies on, read from its bundle:

* ``GOOGLE_GEMINI_BASE_URL`` alone exits 41; ``security.auth.selectedType: gemini-api-key``
  plus ``GEMINI_API_KEY`` authenticates. ``GEMINI_CLI_NO_RELAUNCH`` skips the re-exec of node
  with a bigger heap (one process, about 0.8 s faster).
* ``modelConfigs.customAliases`` named like the model replace the built-in preset for it: the
  generateContentConfig there (``thinkingConfig``, ``maxOutputTokens``) is what is sent.
* A request is tried up to ``general.maxAttempts`` times (at most 10) on 429, 5xx and failed
  fetches, 5 s apart doubling to 30 s with +-30 % jitter (a longer RetryInfo delay wins); an
  answer that is no valid stream (not JSON, empty, blocked) is asked for again up to
  min(maxAttempts, 4) times, 1 s apart doubling. Other 4xx and a body cut off mid-stream are
  not retried. A model in the CLI's own fallback chain (gemini-3-flash-preview) gets up to 10
  tries whatever ``maxAttempts`` says: for it, only the deadline ends a fault that persists.
* ``security.environmentVariableRedaction`` keeps ``*KEY*`` variables out of the commands the
  agent runs (the key is a placeholder anyway: the egress proxy holds the real one).
"""

from __future__ import annotations

import shlex
from typing import Any

from harness.vendors.cli_mcp import gemini_mcp_servers, mcp_passthrough
from harness.vendors.egress import PLACEHOLDER_KEY, gemini_screen, gemini_tap
from harness.vendors.errors import VendorError
from harness.vendors.gemini_cli.options import GeminiCliOptions
from harness.vendors.gemini_cli.session import Session
from harness.vendors.types import EgressRoute, ModelRequest

GEMINI_API_URL = "https://generativelanguage.googleapis.com"  # the SDK's own default
_MODEL_CALL = r"/v1(beta|alpha)?/models/[^/:]+:(streamGenerateContent|generateContent|countTokens)"
API_CALLS = (("POST", _MODEL_CALL), ("GET", r"/v1(beta|alpha)?/models(/[^/:]+)?"))
APPROVAL_DEFAULT = "yolo"  # the container is the boundary
STARTUP_S = 3.0  # the CLI's start to its first request: about 1.5 s measured, with a margin
# The CLI's built-in presets that a model's own preset extends (their sampling defaults).
_FAMILY_PRESET = {"thinkingLevel": "chat-base-3", "thinkingBudget": "chat-base-2.5"}
# The worst-case wait before each retry of a request (the CLI's backoff plus its jitter).
RETRY_WAITS = (6.5, 13.0, 26.0, 39.0, 39.0, 39.0, 39.0, 39.0, 39.0)


def chat_attempts(seconds: float) -> int:
    """``general.maxAttempts``: the tries per request whose waits fit in ``seconds``, so that a
    fault the CLI gives up on is reported before the deadline instead of being cut by it."""
    budget, attempts = seconds - STARTUP_S, 1
    for wait in RETRY_WAITS:
        budget -= wait
        if budget < 0:
            break
        attempts += 1
    return attempts


# Whatever a repository's .gemini/settings.json says, none of these: hooks, tool discovery and
# call commands, an MCP server command, telemetry, another auth type. (Its MCP servers are kept
# out by --allowed-mcp-server-names; the CLI takes ``admin.*`` only from remote admin controls.)
LOCKED: dict[str, Any] = {
    "hooksConfig": {"enabled": False},
    "tools": {"sandbox": False, "discoveryCommand": "", "callCommand": ""},
    "mcp": {"serverCommand": ""},
    "telemetry": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key", "enforcedType": "gemini-api-key"}},
}
# The CLI's tools that write files, excluded for a read-only stage (see claude_cli.command).
WRITE_TOOLS = ["write_file", "replace"]
# A name no server has: the allow-list must never be empty, which the CLI reads as "all".
NO_MCP_SERVER = "harness-no-mcp-server"


def cli_settings(request: ModelRequest, vendor: str, attempts: int) -> dict[str, Any]:
    """The session's settings. They hold no secret (the key never enters the container). They
    go in twice: as the system settings, which outrank a repository's .gemini/settings.json
    (a file the host writes into the read-only control directory: the CLI honours it only when
    root owns it), and as the session's user settings, for when the host does not run as
    root."""
    options = request.settings.options
    assert isinstance(options, GeminiCliOptions)
    settings: dict[str, Any] = {
        "security": {"auth": {"selectedType": "gemini-api-key"},
                     "environmentVariableRedaction": {"enabled": True}},
        "general": {"maxAttempts": attempts, "enableAutoUpdate": False,
                    "enableAutoUpdateNotification": False},
        "privacy": {"usageStatisticsEnabled": False},  # no telemetry to Google's servers
        # The session's environment is the exec's: no variables from a repository's .env.
        "advanced": {"ignoreLocalEnv": True},
        "tools": {"sandbox": False},  # the container is the sandbox
        "modelConfigs": {"customAliases": {request.settings.model_id: _alias(request, vendor)}},
    }
    if options.max_session_turns is not None:
        settings["model"] = {"maxSessionTurns": options.max_session_turns}
    if request.mcp_servers:
        settings["mcpServers"] = gemini_mcp_servers(request.mcp_servers)
    locked = _merged(LOCKED, {"tools": {"exclude": WRITE_TOOLS}}) if request.read_only \
        else LOCKED
    return _merged(settings, locked)


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (_merged(out[key], value) if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else value)
    return out


def _alias(request: ModelRequest, vendor: str) -> dict[str, Any]:
    """The model's preset: the CLI's own chat defaults for its family, plus the attempt's
    thinking control and output limit."""
    s = request.settings
    config: dict[str, Any] = {"maxOutputTokens": s.max_output_tokens}
    base = "chat-base"
    if s.control is not None:
        setting = s.control.name.rpartition(".")[2]  # settings.json thinkingConfig.<setting>
        if setting not in _FAMILY_PRESET:
            raise VendorError(vendor, f"cannot pass the control `{s.control}` to the gemini CLI")
        base = _FAMILY_PRESET[setting]
        value = s.control.value
        config["thinkingConfig"] = {setting: str(value).upper() if setting == "thinkingLevel"
                                    else int(value)}
    return {"extends": base, "modelConfig": {"model": s.model_id,
                                             "generateContentConfig": config}}


def gemini_command(request: ModelRequest, session: Session) -> list[str]:
    """``gemini -p`` in headless JSON mode. The prompt comes on stdin (``-p ''`` adds nothing to
    it): the CLI reads up to 8 MB there, where one argv string holds 128 KiB. Only the stage's
    MCP servers may start (a repository's own are not on the list)."""
    options = request.settings.options
    assert isinstance(options, GeminiCliOptions)
    argv = ["gemini", "-p", "", "-o", "json", "-m", request.settings.model_id,
            "--approval-mode", options.approval_mode or APPROVAL_DEFAULT]
    allowed = [s.name for s in request.mcp_servers] or [NO_MCP_SERVER]
    argv += ["--allowed-mcp-server-names", *allowed]
    script = f'exec "$@" < {shlex.quote(session.prompt)}'
    return ["sh", "-c", script, "sh", *argv]


def gemini_route(request: ModelRequest, key: str, upstream: str | None,
                 vendor: str) -> EgressRoute:
    """What the egress proxy forwards for a session: the Gemini API's model calls at the
    stage's endpoint, with the real key set on the host, and the stage's MCP servers given by
    URL; never a call that makes the API fetch a URL or search the web for the container."""
    return EgressRoute(vendor, upstream or GEMINI_API_URL, {"x-goog-api-key": key},
                       API_CALLS, gemini_tap, passthrough=mcp_passthrough(request.mcp_servers),
                       screen=gemini_screen)


def gemini_env(session: Session, base_url: str, system_settings: str) -> dict[str, str]:
    """The environment of this exec only. The key is a placeholder: the proxy at ``base_url``
    holds the real one."""
    return {
        "HOME": session.home,
        "TMPDIR": f"{session.dir}/tmp",  # the CLI's error reports land here, then are swept
        "GEMINI_API_KEY": PLACEHOLDER_KEY,
        "GEMINI_CLI_SYSTEM_SETTINGS_PATH": system_settings,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "GEMINI_CLI_NO_RELAUNCH": "true",
        "NO_COLOR": "1",
        "GOOGLE_GEMINI_BASE_URL": base_url,
    }
