"""Old tool outputs are condensed in steps: the last five stay whole, nothing changes between
steps (so the prompt cache keeps its prefix), and a placeholder says what the output was."""

from __future__ import annotations

from harness.pipeline.condense import CONDENSE_AT, KEEP_FULL, MARK, condense
from harness.vendors.types import Message, ToolCall, ToolResult


def read(n: int, size: int = 10_000) -> list[Message]:
    call = ToolCall(f"c{n}", "read_file", {"path": f"src/f{n}.ts"})
    return [Message("assistant", tool_calls=(call,)),
            Message("user", tool_results=(ToolResult(f"c{n}", "x\n" * (size // 2)),))]


def history(reads: int) -> list[Message]:
    return [Message("user", "fix the bug"), *(m for n in range(reads) for m in read(n))]


def results(messages: list[Message]) -> list[str]:
    return [r.content for m in messages for r in m.tool_results]


def test_a_short_history_is_left_alone() -> None:
    messages = history(KEEP_FULL + 1)
    assert condense(messages) is messages


def test_past_the_step_all_but_the_last_five_are_condensed() -> None:
    messages = history(12)
    out = results(condense(messages))
    assert all(r.startswith(MARK) for r in out[:-KEEP_FULL])
    assert not any(r.startswith(MARK) for r in out[-KEEP_FULL:])
    assert "read_file(path=src/f0.ts)" in out[0]
    assert "call it again" in out[0]
    assert sum(map(len, out)) < 0.5 * sum(map(len, results(messages)))


def test_between_steps_the_history_only_grows_at_its_end() -> None:
    messages = condense(history(12))
    per_read = 10_000
    for n in range(12, 12 + CONDENSE_AT // per_read - 1):  # under the step: only appended
        grown = condense([*messages, *read(n)])
        assert grown[:len(messages)] == messages
        messages = grown
    stepped = condense([*messages, *read(99)])  # the older whole outputs reach the step
    assert stepped[:len(messages)] != messages
    assert all(r.startswith(MARK) for r in results(stepped)[:-KEEP_FULL])


def test_errors_and_short_results_keep_their_flag_and_text() -> None:
    messages = history(12)
    messages[2] = Message("user", tool_results=(ToolResult("c0", "no such file", True),))
    out = [r for m in condense(messages) for r in m.tool_results]
    assert out[0].content == "no such file"
    assert out[0].is_error
