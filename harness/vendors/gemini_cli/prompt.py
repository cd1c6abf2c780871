"""What the gemini-cli vendor tells the CLI, and how it reads a structured answer back.

The CLI starts a fresh agent session per call, so a request becomes two texts:

* ``request.system`` goes into the session's global ``GEMINI.md``, which the CLI loads into its
  own system instruction (after its built-in prompt: the agent keeps its tool guidance);
* the messages become the prompt, read from stdin: earlier turns as a transcript, then the
  current request. The CLI treats ``@path`` there as its own file reference: a workspace file
  so named is appended to the prompt (the text stays, but for a space put before a mid-word
  ``@``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from harness.vendors.cli_session import render_transcript
from harness.vendors.errors import MalformedResponseError
from harness.vendors.types import ModelRequest

# GEMINI.md supports ``@path`` imports: an ``@`` at the start of a word, followed by a letter,
# ``.`` or ``/``, is replaced by that file's content or by an "Import failed" comment. Code spans
# are left alone, so such words are wrapped in backticks (a code span can hold any text).
_IMPORT = re.compile(r"(?:(?<=\s)|^)@[A-Za-z./]\S*")
_CODE = re.compile(r"(`+)[\s\S]*?\1")
_FENCE = re.compile(r"```(?:json)?\s*\n([\s\S]*?)\n\s*```")


def system_file(system: str) -> str:
    """``request.system`` as GEMINI.md content: every word the CLI would take for an import is
    wrapped in a code span, so the model reads the text as written."""
    spans = [m.span() for m in _CODE.finditer(system)]

    def shield(m: re.Match[str]) -> str:
        inside = any(start <= m.start() < end for start, end in spans)
        return m.group(0) if inside else f"`{m.group(0)}`"

    return _IMPORT.sub(shield, system)


def prompt_text(request: ModelRequest) -> str:
    """The conversation as one prompt, plus the JSON instruction when a schema is asked for."""
    prompt = render_transcript(request.messages)
    schema = request.output_schema
    if schema is not None and json.dumps(dict(schema)) not in prompt:
        prompt += ("\n\nWhen you are done, answer with one JSON object matching this JSON "
                   f"schema, and nothing else:\n{json.dumps(dict(schema))}")
    # The CLI runs a prompt that starts with "/" as one of its slash commands.
    if prompt.startswith("/") and not prompt.startswith(("//", "/*")):
        prompt = "Request:\n" + prompt
    return prompt


def json_answer(vendor: str, text: str, schema: Mapping[str, Any]) -> str:
    """The JSON the schema asked for, found in the final answer (bare, fenced, or the outermost
    object in prose), re-serialised; ``MalformedResponseError`` when there is none."""
    value = _parse(text)
    if value is None:
        raise MalformedResponseError(vendor, "the answer is not the JSON the output schema asks "
                                     f"for: {text.strip()[:200]!r}")
    if schema.get("type") == "object":
        if not isinstance(value, dict):
            raise MalformedResponseError(vendor, "the answer is JSON but not an object")
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise MalformedResponseError(vendor, "the answer's JSON lacks required keys: "
                                         + ", ".join(map(str, missing)))
    return json.dumps(value, ensure_ascii=False)


def _parse(text: str) -> Any:
    fenced = _FENCE.search(text)
    start, end = text.find("{"), text.rfind("}")
    candidates = [text.strip(), fenced.group(1) if fenced else "",
                  text[start:end + 1] if 0 <= start < end else ""]
    for candidate in filter(None, candidates):
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    return None
