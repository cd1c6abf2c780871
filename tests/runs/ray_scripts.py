"""Stateless scripted stages for the Ray engine's tests, imported by module path on every node
(as in ``batch_scripts``, a ticket whose id ends in an odd digit gets the buggy fix). Two things
only a cluster can get wrong: the coder writes the right fix only when the key variable its
stage names reached it, and a ticket titled "slow ..." thinks long enough to be killed mid-run."""

from __future__ import annotations

import os

from harness.vendors.scripted import Reply
from harness.vendors.types import ModelRequest
from tests.pipeline.conftest import BUGGY, FIXED, MANIFEST

KEY_ENV = "HARNESS_RAY_TEST_KEY"
SLOW_S = 6.0


def planner(request: ModelRequest) -> Reply:
    return Reply("", [("submit_manifest", MANIFEST)])


def coder(request: ModelRequest) -> Reply:
    if any(m.tool_results for m in request.messages):
        return Reply("", [("finish", {"summary": "done"})])
    first = request.messages[0].text
    ticket = first.split(":", 1)[0].removeprefix("# ").strip()
    good = int(ticket[-1]) % 2 == 0 and bool(os.environ.get(KEY_ENV))
    return Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED if good else BUGGY})],
                 delay=SLOW_S if "slow" in first else 0.0)


STAGES = f"""\
planner:
  {{vendor: scripted, model: opus, timeout: 30s,
   vendor_options: {{script: "tests.runs.ray_scripts:planner"}}}}
coder:
  {{vendor: scripted, model: sonnet, timeout: 30s, api_key_env: {KEY_ENV},
   vendor_options: {{script: "tests.runs.ray_scripts:coder"}}}}
sandbox:
  test_command: node --test test/
"""
