"""A stage's MCP tools as a recorded run saw them, for a replay: the tools its requests offered
and the results its calls got, read from the run's llm/ exchanges. No server starts and no
secret is needed; a call the recording never made gets an error result, and the next request
then differs from the recording (the replay stops there, saying where)."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.pipeline.mcp_tools import SEP
from harness.vendors.types import ToolCall, ToolResult, ToolSpec


class RecordedMcp:
    def __init__(self, run_dir: Path, role: str) -> None:
        exchanges = [json.loads(p.read_text(encoding="utf-8"))
                     for p in sorted((run_dir / "llm").glob("*.json"))]
        requests: list[dict[str, Any]] = [e["request"] for e in exchanges
                                          if e.get("stage") == role]
        tools = requests[0]["tools"] if requests else []
        self.specs = tuple(ToolSpec(t["name"], t["description"], t["input_schema"])
                           for t in tools if SEP in t["name"])
        # Each request's last turn holds the results of the previous answer's calls, in order.
        self._results: dict[str, deque[ToolResult]] = defaultdict(deque)
        for request in requests:
            last = request["messages"][-1] if request["messages"] else {}
            for r in last.get("tool_results") or ():
                self._results[r["call_id"]].append(
                    ToolResult(r["call_id"], r["content"], bool(r["is_error"])))

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.specs}

    def __enter__(self) -> RecordedMcp:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def call(self, call: ToolCall, timeout: float = 0.0) -> ToolResult:
        recorded = self._results.get(call.id)
        if not recorded:
            return ToolResult(call.id, f"replay: the recording has no result for the MCP call "
                              f"{call.name} ({call.id})", is_error=True)
        return recorded.popleft()
