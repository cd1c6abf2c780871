"""The same MCP server as ``mcp_stdio_server``, over Streamable HTTP on the host's loopback:
POST a JSON-RPC message, get its result as JSON (202 for a notification); no server-sent event
stream (GET is 405, which the transport allows). A CLI in the container reaches it only through
the egress proxy."""

from __future__ import annotations

from typing import Any

from harness.fakes.loopback import ScriptedHandler
from tests.vendors.mcp_stdio_server import answer


class McpHttpHandler(ScriptedHandler):
    def do_POST(self) -> None:
        rec = self.record()
        msg: Any = rec.body
        result = answer(msg) if isinstance(msg, dict) else None
        if result is None:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_json(200, {"jsonrpc": "2.0", "id": msg["id"], "result": result},
                       {"Mcp-Session-Id": "session-1"})

    def do_GET(self) -> None:
        self.record()
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_DELETE(self) -> None:
        self.record()
        self.send_json(200, {})


__all__ = ["McpHttpHandler"]
