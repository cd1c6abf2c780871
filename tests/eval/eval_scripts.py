"""Stateless scripted stages for eval tests (``tests.eval.eval_scripts:...``): the Planner plans
the slug fix, the Coder writes it. Two stages files differ only in the Coder's model, so in
price."""

from __future__ import annotations

from harness.vendors.scripted import Reply
from harness.vendors.types import ModelRequest
from tests.pipeline.conftest import FIXED, MANIFEST


def planner(request: ModelRequest) -> Reply:
    return Reply("", [("submit_manifest", MANIFEST)])


def coder(request: ModelRequest) -> Reply:
    if any(m.tool_results for m in request.messages):
        return Reply("", [("finish", {"summary": "done"})])
    return Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})])


def stages(coder_model: str) -> str:
    return f"""\
planner:
  {{vendor: scripted, model: opus, timeout: 30s,
   vendor_options: {{script: "tests.eval.eval_scripts:planner"}}}}
coder:
  {{vendor: scripted, model: {coder_model}, timeout: 30s,
   vendor_options: {{script: "tests.eval.eval_scripts:coder"}}}}
sandbox:
  test_command: node --test test/
"""
