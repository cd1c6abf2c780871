"""MCP servers a stage lists (``mcp_servers``), offered to SDK vendors as tools: the harness is the
MCP client (the ``mcp`` SDK). A server's tool ``lookup`` appears as ``<server>__lookup``.

The SDK is asynchronous and the pipeline is not, so an ``McpHub`` runs one event loop in a
thread; one task there opens every connection and, at the end, closes them (anyio requires
both in the same task). Tool calls are submitted to that loop and waited for with a timeout.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AsyncExitStack, suppress
from types import TracebackType
from typing import Any, Protocol

from harness.config import secrets
from harness.config.schema import McpServerConfig
from harness.errors import HarnessError
from harness.vendors.common import remember_secret
from harness.vendors.types import ToolCall, ToolResult, ToolSpec

SEP = "__"
CONNECT_TIMEOUT = 30.0
CALL_TIMEOUT = 120.0


class ToolHub(Protocol):
    """A stage's MCP tools: live servers (``McpHub``) or a recording of them (a replay)."""

    specs: tuple[ToolSpec, ...]

    @property
    def names(self) -> set[str]: ...

    def call(self, call: ToolCall, timeout: float = ...) -> ToolResult: ...


class McpError(HarnessError, ConnectionError):
    """An MCP server could not be started or listed; names the server and how to fix it."""


class McpHub:
    def __init__(self, servers: Sequence[McpServerConfig]) -> None:
        self.servers = tuple(servers)
        self.specs: tuple[ToolSpec, ...] = ()
        self._clients: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp", daemon=True)
        self._stop: asyncio.Event | None = None
        self._main: Future[None] | None = None

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.specs}

    def __enter__(self) -> McpHub:
        self._thread.start()
        ready: Future[None] = Future()
        self._main = asyncio.run_coroutine_threadsafe(self._hold(ready), self._loop)
        try:
            ready.result(timeout=CONNECT_TIMEOUT)
        except BaseException:
            self._shutdown()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._shutdown()

    def call(self, call: ToolCall, timeout: float = CALL_TIMEOUT) -> ToolResult:
        server, _, tool = call.name.partition(SEP)
        client = self._clients.get(server)
        if client is None or call.name not in self.names:
            return ToolResult(call.id, f"unknown MCP tool `{call.name}`", is_error=True)
        future = asyncio.run_coroutine_threadsafe(
            client.call_tool(tool, dict(call.arguments)), self._loop)
        try:
            result = future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()
            return ToolResult(call.id, f"MCP tool {call.name} timed out after {timeout:.0f}s",
                              is_error=True)
        except Exception as exc:  # the server's failure is the model's tool error
            return ToolResult(call.id, f"MCP tool {call.name} failed: {exc}", is_error=True)
        text = "\n".join(getattr(part, "text", None) or str(part) for part in result.content)
        return ToolResult(call.id, text or str(result.structured_content or ""),
                          is_error=bool(result.is_error))

    async def _hold(self, ready: Future[None]) -> None:
        self._stop = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                specs: list[ToolSpec] = []
                for server in self.servers:
                    client = await stack.enter_async_context(_client(server))
                    self._clients[server.name] = client
                    listed = await client.list_tools()
                    # By name: the tools are the start of every request's cached prefix, and a
                    # server need not list them in the same order twice (docs/caching.md).
                    specs += [ToolSpec(f"{server.name}{SEP}{t.name}", t.description or t.name,
                                       t.input_schema)
                              for t in sorted(listed.tools, key=lambda t: t.name)]
                self.specs = tuple(specs)
                ready.set_result(None)
                await self._stop.wait()
        except Exception as exc:
            if not ready.done():
                ready.set_exception(McpError(
                    f"MCP server could not be used: {exc} — check mcp_servers in stages.yaml "
                    "(the command must start an MCP server on stdio, the url must serve "
                    "MCP over HTTP)"))
            else:
                raise

    def _shutdown(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._main is not None:
            with suppress(Exception):  # closing: the run's outcome is already decided
                self._main.result(timeout=CONNECT_TIMEOUT)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CONNECT_TIMEOUT)
        self._loop.close()


def _client(server: McpServerConfig) -> Any:
    from mcp import Client, StdioServerParameters  # noqa: PLC0415 - only runs that use MCP

    if server.url:
        return Client(server.url)
    command, *args = server.command or []
    return Client(StdioServerParameters(command=command, args=args,
                                        env=server_env(server) or None, cwd=server.cwd))


def server_env(server: McpServerConfig) -> dict[str, str]:
    """The server's env with its references resolved; each value is scrubbed from every
    record from now on."""
    env = secrets.resolve(server.env, os.environ, where=f"MCP server `{server.name}`")
    for value in env.values():
        remember_secret(value)
    return env
