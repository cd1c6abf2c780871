"""`harness demo`, as the README's first command runs it: the bundled ticket resolves offline in
the real sandbox after one failed Coder attempt, and the bundled repository keeps its tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main

pytestmark = pytest.mark.docker  # every test here needs the engine


def test_the_demo_resolves_after_a_failed_first_attempt(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "resolved" in result.output
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.name.startswith("DEMO-1-")]
    state = json.loads((run_dir / "run.json").read_text())
    coder = [a for a in state["attempts"] if a["stage"] == "coder"]
    assert [a["outcome"] for a in coder] == ["tests_failed", "passed"]
    assert [a["tier"] for a in coder] == ["medium", "high"]
    assert [a["outcome"] for a in state["attempts"] if a["stage"] != "coder"] == [
        "accepted", "approved"]
    first_tests = sorted((run_dir / "tests").iterdir())[0].read_text()
    assert "not ok" in first_tests
    assert "drops punctuation and trims dashes" in first_tests
    assert ".replace(/^-+|-+$/g" in (run_dir / "final.diff").read_text()
