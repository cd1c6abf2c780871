from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.stages import RunPlan, load_plan

# The design note's example, exactly as written there.
SEED = """\
planner:
  vendor: anthropic
  model: opus                    # the most capable model in the run
  timeout: 300s
  retry_budget: 1                # one re-plan on a routed manifest issue
  on_exhaust: surface_to_human

coder:
  vendor: anthropic
  model: sonnet
  timeout: 120s
  retry_budget: 3
  on_retry:
    compute: increased           # more compute on the same model
  on_exhaust: halt

debugger:
  vendor: anthropic
  model: sonnet
  timeout: 300s
  attaches_to: any_stage         # invoked on demand wherever runtime evidence exists
  on_retry:
    compute: increased
  can_route_to: any_stage        # mini-brain: routes the fix to whichever upstream stage owns it

reviewer:
  vendor: google
  model: gemini-flash            # cheap-and-fast for a scanning role
  timeout: 120s
  retry_budget: 1
"""

MINIMAL = """\
planner:
  vendor: anthropic
  model: opus
  timeout: 300s
coder:
  vendor: anthropic
  model: sonnet
  timeout: 120s
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def _write(text: str, name: str = "stages.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def plan_of(write: Callable[[str], Path]) -> Callable[[str], RunPlan]:
    def _plan(text: str) -> RunPlan:
        return load_plan(write(text), shown_as="stages.yaml")

    return _plan


@pytest.fixture
def refusal(write: Callable[[str], Path]) -> Callable[[str], list[str]]:
    """The formatted diagnostics of a config that must be refused."""

    def _refuse(text: str) -> list[str]:
        with pytest.raises(ConfigError) as info:
            load_plan(write(text), shown_as="stages.yaml")
        return [d.format() for d in info.value.diagnostics]

    return _refuse
