"""A stage's MCP servers in the form the CLIs read: claude's ``--mcp-config`` JSON and gemini's
settings.json ``mcpServers``. The CLIs run in the container, so stdio commands run there too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.config.schema import McpServerConfig


def claude_mcp_config(servers: Sequence[McpServerConfig]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for s in servers:
        if s.url:
            entries[s.name] = {"type": "http", "url": s.url}
        else:
            command, *args = s.command or []
            entries[s.name] = {"type": "stdio", "command": command, "args": args,
                               "env": dict(s.env)}
    return {"mcpServers": entries}


def gemini_mcp_servers(servers: Sequence[McpServerConfig]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for s in servers:
        if s.url:
            entries[s.name] = {"httpUrl": s.url}
        else:
            command, *args = s.command or []
            entry: dict[str, Any] = {"command": command, "args": args, "env": dict(s.env)}
            if s.cwd:
                entry["cwd"] = s.cwd
            entries[s.name] = entry
    return entries
