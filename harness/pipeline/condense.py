"""Old tool outputs condensed, so a long attempt does not pay for every file it ever read on
every turn.

A 40-turn attempt that read a dozen files sends all of them again with each call: most of its
input is observations the model has already acted on. SWE-agent kept the last five observations
in full (18.0% vs 15.0% resolved against the full history); OpenHands' condenser halved the
cost per turn at the same resolve rate. Here the last ``KEEP_FULL`` tool results stay whole and
older ones become a one-line placeholder that says how to get them back.

Condensing rewrites history, and a vendor's prompt cache holds only an unchanged prefix, so it
happens in steps, not per turn: nothing changes until the outputs not yet condensed pass
``CONDENSE_AT`` characters; then all of them but the last ``KEEP_FULL`` are condensed at once.
Between two steps the history only grows at its end and every turn reads the cache.
"""

from __future__ import annotations

from dataclasses import replace

from harness.vendors.types import Message, ToolResult

KEEP_FULL = 5  # latest tool results always kept whole
CONDENSE_AT = 60_000  # characters of whole, older tool results that trigger a step
SMALL = 400  # a result this short is kept: its placeholder would save nothing
MARK = "[condensed by harness:"


def condense(messages: list[Message]) -> list[Message]:
    """``messages`` with older tool results condensed when they have grown past the step."""
    results = [(i, r) for i, m in enumerate(messages) for r in m.tool_results]
    older = results[:-KEEP_FULL] if len(results) > KEEP_FULL else []
    whole = [(i, r) for i, r in older if _whole(r)]
    if sum(len(r.content) for _, r in whole) < CONDENSE_AT:
        return messages
    calls = {c.id: c for m in messages for c in m.tool_calls}
    doomed = {r.call_id for _, r in whole}
    out = []
    for message in messages:
        if not any(r.call_id in doomed for r in message.tool_results):
            out.append(message)
            continue
        out.append(replace(message, tool_results=tuple(
            _placeholder(r, calls.get(r.call_id)) if r.call_id in doomed else r
            for r in message.tool_results)))
    return out


def _whole(result: ToolResult) -> bool:
    return len(result.content) > SMALL and not result.content.startswith(MARK)


def _placeholder(result: ToolResult, call: object) -> ToolResult:
    name = getattr(call, "name", "a tool")
    args = getattr(call, "arguments", {}) or {}
    what = ", ".join(f"{k}={str(v)[:80]}" for k, v in args.items()
                     if k in ("path", "pattern", "command", "query", "start_line", "end_line"))
    lines = result.content.count("\n") + 1
    return ToolResult(result.call_id, f"{MARK} {len(result.content)} characters ({lines} "
                      f"lines) of {name}({what}) from an earlier turn, already acted on; call "
                      "it again if you need it]", result.is_error)
