"""Stateless scripted stages for resume and --json-events tests (importable from a
subprocess): the Coder writes the fix only when its prompt carries the human's brief
(``BRIEF``), else the buggy version; every reply states its usage, so the caps are exact."""

from __future__ import annotations

from harness.vendors.scripted import Reply
from harness.vendors.types import ModelRequest, Usage
from tests.pipeline.conftest import BUGGY, FIXED, MANIFEST

BRIEF = "HUMAN-BRIEF: trim the dashes at both ends with a second replace"
TOKENS = 1000  # every reply's usage
KEY_SHAPED = "sk-ant-api03-" + "Q" * 40  # a secret a model put in a file: never streamed


def _usage() -> Usage:
    return Usage(input_tokens=TOKENS - 100, output_tokens=100)


def planner(request: ModelRequest) -> Reply:
    return Reply("", [("submit_manifest", MANIFEST)], usage=_usage())


def coder(request: ModelRequest) -> Reply:
    if any(m.tool_results for m in request.messages):
        return Reply("", [("finish", {"summary": f"changed slugify {KEY_SHAPED}"})],
                     usage=_usage())
    source = FIXED if BRIEF in request.messages[0].text else BUGGY
    return Reply("", [("write_file", {"path": "src/slug.js",
                                      "content": f"// {KEY_SHAPED}\n{source}"})],
                 usage=_usage())


def fixing_coder(request: ModelRequest) -> Reply:
    if any(m.tool_results for m in request.messages):
        return Reply("", [("finish", {"summary": "trimmed"})], usage=_usage())
    return Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})],
                 usage=_usage())


def reviewer(request: ModelRequest) -> Reply:
    """Approves only once the human's brief is among what it reads."""
    if BRIEF in request.messages[0].text:
        return Reply("", [("submit_review", {"verdict": "approve"})], usage=_usage())
    return Reply("", [("submit_review", {"verdict": "request_changes", "findings": [
        {"path": "src/slug.js", "line": 1, "message": "document slugify"}]})], usage=_usage())


def stages(token_cap: int = 500_000, *, review: bool = False) -> str:
    coder_script = "fixing_coder" if review else "coder"
    reviewer_entry = """
reviewer:
  {vendor: scripted, model: gemini-flash, timeout: 30s, on_exhaust: halt,
   vendor_options: {script: "tests.runs.resume_scripts:reviewer"}}""" if review else ""
    return f"""\
planner:
  {{vendor: scripted, model: opus, timeout: 30s,
   vendor_options: {{script: "tests.runs.resume_scripts:planner"}}}}
coder:
  {{vendor: scripted, model: sonnet, timeout: 30s, on_exhaust: surface_to_human,
   vendor_options: {{script: "tests.runs.resume_scripts:{coder_script}"}}}}{reviewer_entry}
token_cap: {token_cap}
sandbox:
  test_command: node --test test/
"""
