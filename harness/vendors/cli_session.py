"""What both CLI vendors do the same way: write a session's files into the container through
exec (base64 pieces small enough for one argv string), and turn a conversation into the single
prompt a fresh CLI session takes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping

from harness.resources import bundled
from harness.vendors.types import Message

# The whole exec request travels as one argv string (at most 128 KiB on Linux), so a large
# prompt is written to the container in several execs of about this many base64 characters.
STAGE_BUDGET = 96_000
# In-container code (sandbox/README.md), sent with every exec that writes a session's files:
# removes earlier sessions' directories (every process they started is gone: an exec ends by
# killing them), makes this session's, and appends base64 chunks to files. A session directory
# is named PREFIX-<token>.
STAGE_SOURCE = bundled("sandbox/cli_stage.py").read_text(encoding="utf-8")


def stage_commands(directory: str, subdirs: tuple[str, ...],
                   files: Mapping[str, str]) -> Iterator[list[str]]:
    """The execs that create ``directory`` (``<prefix>-<token>``, and ``subdirs``; earlier
    sessions' directories of that prefix go) and write ``files`` (path -> text) into it. Always
    at least one, so the directories exist even for an empty prompt."""
    head = ["python3", "-I", "-c", STAGE_SOURCE, directory, ",".join(("", *subdirs))]
    pieces: list[str] = []
    size = 0
    for path, text in files.items():
        data = base64.b64encode(text.encode("utf-8")).decode("ascii")
        for start in range(0, max(len(data), 1), STAGE_BUDGET):
            chunk = data[start:start + STAGE_BUDGET]
            if pieces and size + len(chunk) > STAGE_BUDGET:
                yield [*head, *pieces]
                pieces, size = [], 0
            pieces += [path, chunk]
            size += len(chunk)
    yield [*head, *pieces]


def render_transcript(messages: tuple[Message, ...]) -> str:
    """The conversation as one prompt: earlier turns as a transcript, then the last user turn.

    A CLI starts a fresh session per call, so the only way to give it the turns before is as
    text; its own tools and their results inside the session are its business."""
    if not messages:
        return ""
    *earlier, last = messages
    if last.role != "user":
        earlier, last = [*earlier, last], Message("user", "Continue from where you left off.")
    current = _turn_body(last)
    if not earlier:
        return current
    transcript = "\n".join(f'<turn role="{m.role}">\n{_turn_body(m)}\n</turn>' for m in earlier)
    return ("The conversation so far, oldest turn first:\n<conversation>\n" + transcript
            + "\n</conversation>\n\nThe current request:\n" + current)


def _turn_body(message: Message) -> str:
    parts = [f"[result of tool call {r.call_id}{' (error)' if r.is_error else ''}]\n{r.content}"
             for r in message.tool_results]
    if message.text:
        parts.append(message.text)
    parts += [f"[tool call {c.id}: {c.name} {json.dumps(dict(c.arguments), sort_keys=True)}]"
              for c in message.tool_calls]
    return "\n".join(parts)
