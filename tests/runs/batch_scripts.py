"""Stateless scripted stages for batch tests (importable as ``tests.runs.batch_scripts:...`` from
a subprocess): each reply is a function of the request alone, so concurrent tickets never share
a cursor. A ticket whose id ends in an odd digit gets the buggy fix; ``SLOW`` tickets think."""

from __future__ import annotations

from harness.vendors.scripted import Reply
from harness.vendors.types import ModelRequest
from tests.pipeline.conftest import BUGGY, FIXED, MANIFEST

SLOW = ("B-5", "B-6")


def _ticket(request: ModelRequest) -> str:
    return request.messages[0].text.split(":", 1)[0].removeprefix("# ").strip()


def planner(request: ModelRequest) -> Reply:
    return Reply("", [("submit_manifest", MANIFEST)])


def coder(request: ModelRequest) -> Reply:
    ticket = _ticket(request)
    if any(m.tool_results for m in request.messages):
        return Reply("", [("finish", {"summary": "done"})])
    source = BUGGY if int(ticket[-1]) % 2 else FIXED
    return Reply("", [("write_file", {"path": "src/slug.js", "content": source})],
                 delay=3.0 if ticket in SLOW else 0.0)


STAGES = """\
planner:
  {vendor: scripted, model: opus, timeout: 30s,
   vendor_options: {script: "tests.runs.batch_scripts:planner"}}
coder:
  {vendor: scripted, model: sonnet, timeout: 30s,
   vendor_options: {script: "tests.runs.batch_scripts:coder"}}
sandbox:
  test_command: node --test test/
"""
