"""A stdio MCP server in the standard library only (the container has python3, not the mcp
SDK): one tool, ``lookup_symbol``. The CLI vendor tests copy it into the workspace."""

import json
import sys

TOOL = {"name": "lookup_symbol", "description": "Where a symbol is defined",
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}},
                        "required": ["name"]}}
SYMBOLS = {"greet": "src/greet.js"}


def send(message_id: object, result: dict[str, object]) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": message_id, "result": result}) + "\n")
    sys.stdout.flush()


def main() -> None:
    for line in sys.stdin:
        msg = json.loads(line)
        method, message_id = msg.get("method"), msg.get("id")
        if method == "initialize":
            send(message_id, {"protocolVersion": msg["params"]["protocolVersion"],
                              "capabilities": {"tools": {}},
                              "serverInfo": {"name": "symbols", "version": "1"}})
        elif method == "tools/list":
            send(message_id, {"tools": [TOOL]})
        elif method == "tools/call":
            name = msg["params"]["arguments"]["name"]
            send(message_id, {"content": [{"type": "text",
                                           "text": SYMBOLS.get(name, "unknown")}]})
        elif message_id is not None:  # ping and anything else: an empty result
            send(message_id, {})


if __name__ == "__main__":
    main()
