"""The CLI vendors send in-container code from sandbox/ (its one home) as ``python3 -I -c``
source: each file is found, compiles as Python 3 that the image runs, and the watcher's last
line is the one the claude-cli vendor reads."""

from __future__ import annotations

import ast

import pytest

from harness.resources import bundled
from harness.vendors.claude_cli.command import WATCH_SOURCE
from harness.vendors.claude_cli.result import VERDICT
from harness.vendors.cli_session import STAGE_SOURCE


@pytest.mark.parametrize(("name", "source"), [("claude_watch.py", WATCH_SOURCE),
                                              ("cli_stage.py", STAGE_SOURCE)])
def test_each_source_is_the_file_in_sandbox(name: str, source: str) -> None:
    assert source == bundled(f"sandbox/{name}").read_text(encoding="utf-8")
    compile(source, name, "exec", dont_inherit=True)


def test_the_watchers_verdict_is_the_one_the_result_reads() -> None:
    assigned = {t.id: node.value.value for node in ast.parse(WATCH_SOURCE).body
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                for t in node.targets if isinstance(t, ast.Name)}
    assert assigned["VERDICT"] == VERDICT
