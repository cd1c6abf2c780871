"""A stdio MCP server in the standard library only (the container has python3, not the mcp
SDK): ``lookup_symbol``, and ``read_env`` (a variable of the server's environment, which is how
tests see that a secret given by reference reached it). The CLI vendor tests copy it into the
workspace."""

from __future__ import annotations

import json
import os
import sys

TOOL = {"name": "lookup_symbol", "description": "Where a symbol is defined",
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}},
                        "required": ["name"]}}
READ_ENV = {"name": "read_env", "description": "A variable of this server's environment",
            "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}},
                            "required": ["name"]}}
SYMBOLS = {"greet": "src/greet.js"}


def answer(msg: dict[str, object]) -> dict[str, object] | None:
    """The JSON-RPC result for a request (None for a notification)."""
    method, params = msg.get("method"), msg.get("params") or {}
    assert isinstance(params, dict)
    if msg.get("id") is None:
        return None
    if method == "initialize":
        return {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "symbols", "version": "1"}}
    if method == "tools/list":
        return {"tools": [TOOL, READ_ENV]}
    if method == "tools/call":
        name = params["arguments"]["name"]
        text = (os.environ.get(name, "unset") if params["name"] == "read_env"
                else SYMBOLS.get(name, "unknown"))
        return {"content": [{"type": "text", "text": text}]}
    return {}  # ping and anything else: an empty result


def main() -> None:
    for line in sys.stdin:
        msg = json.loads(line)
        result = answer(msg)
        if result is not None:
            sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result})
                             + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
