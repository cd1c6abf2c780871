"""A small MCP server for the tests: a symbol registry the Planner can look up (stdio)."""

from mcp.server.mcpserver import MCPServer

SYMBOLS = {"slugify": "src/slug.js", "greet": "src/greet.js"}
server = MCPServer("symbols")


@server.tool()
def lookup_symbol(name: str) -> str:
    """Where a symbol is defined: its file, relative to the repository root."""
    return SYMBOLS.get(name, f"unknown symbol {name}")


if __name__ == "__main__":
    server.run("stdio")
