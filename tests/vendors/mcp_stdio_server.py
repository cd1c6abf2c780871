"""A stdio MCP server in the standard library only (the container has python3, not the mcp
SDK): ``lookup_symbol``, and ``read_env`` (a variable of the server's environment, which is how
tests see that a secret given by reference reached it). The CLI vendor tests copy it into the
workspace."""

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
            send(message_id, {"tools": [TOOL, READ_ENV]})
        elif method == "tools/call":
            name = msg["params"]["arguments"]["name"]
            answer = (os.environ.get(name, "unset") if msg["params"]["name"] == "read_env"
                      else SYMBOLS.get(name, "unknown"))
            send(message_id, {"content": [{"type": "text", "text": answer}]})
        elif message_id is not None:  # ping and anything else: an empty result
            send(message_id, {})


if __name__ == "__main__":
    main()
