"""A stage's MCP servers in the form the CLIs read: claude's ``--mcp-config`` JSON and gemini's
settings.json ``mcpServers``. The CLIs run in the container, so stdio commands run there too.

No env value is ever in that form: each becomes a reference (``${HARNESS_MCP_0_1}``) that the
CLI resolves from its own environment, and ``mcp_env`` gives the values for the CLI's exec only
(never argv, never a file). A server given by URL is reached through the egress proxy (the
container has no network): the CLI is given the proxy's path for it, and ``mcp_passthrough`` is
what the proxy forwards there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from harness.config import secrets
from harness.config.schema import McpServerConfig
from harness.vendors.common import remember_secret
from harness.vendors.egress import MCP_PREFIX, PROXY_URL


def claude_mcp_config(servers: Sequence[McpServerConfig]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for n, s in enumerate(servers):
        if s.url:
            entries[s.name] = {"type": "http", "url": proxied(s)}
        else:
            command, *args = s.command or []
            entries[s.name] = {"type": "stdio", "command": command, "args": args,
                               "env": _env_references(n, s)}
    return {"mcpServers": entries}


def gemini_mcp_servers(servers: Sequence[McpServerConfig]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for n, s in enumerate(servers):
        if s.url:
            entries[s.name] = {"httpUrl": proxied(s)}
        else:
            command, *args = s.command or []
            entry: dict[str, Any] = {"command": command, "args": args,
                                     "env": _env_references(n, s)}
            if s.cwd:
                entry["cwd"] = s.cwd
            entries[s.name] = entry
    return entries


def proxied(server: McpServerConfig) -> str:
    """Where the CLI in the container reaches a server given by URL: the egress proxy."""
    return PROXY_URL + MCP_PREFIX + server.name


def mcp_passthrough(servers: Sequence[McpServerConfig]) -> dict[str, str]:
    """The proxy's path prefix for each server given by URL, and that URL."""
    return {MCP_PREFIX + s.name: s.url for s in servers if s.url}


def mcp_env(servers: Sequence[McpServerConfig],
            environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values the references in the CLI's MCP config stand for: the CLI's exec env only.
    Raises ``MissingSecretError`` for a reference to a variable that is not set."""
    values: dict[str, str] = {}
    for n, s in enumerate(servers):
        env = secrets.resolve(s.env, os.environ if environ is None else environ,
                              where=f"MCP server `{s.name}`")
        for m, value in enumerate(env.values()):
            remember_secret(value)
            values[_name(n, m)] = value
    return values


def _env_references(n: int, server: McpServerConfig) -> dict[str, str]:
    return {key: f"${{{_name(n, m)}}}" for m, key in enumerate(server.env)}


def _name(server: int, key: int) -> str:
    return f"HARNESS_MCP_{server}_{key}"
