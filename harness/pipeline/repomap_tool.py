"""The ``repo_map`` tool: the repository map of the base commit, ranked for the model's query.
Like every tool, a bad call is an error result the model can correct, never an exception."""

from __future__ import annotations

from harness.repomap import RepoMap
from harness.vendors.types import ToolCall, ToolResult


def call_repo_map(repo_map: RepoMap, call: ToolCall) -> ToolResult:
    query = call.arguments.get("query")
    budget = call.arguments.get("budget")
    if not isinstance(query, str) or not query.strip():
        return ToolResult(call.id, "repo_map needs `query`: words, identifiers or a path",
                          is_error=True)
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool)):
        return ToolResult(call.id, f"`budget` must be a number of tokens, not {budget!r}",
                          is_error=True)
    return ToolResult(call.id, repo_map.answer(query, budget))
