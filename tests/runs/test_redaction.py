"""A run whose ticket, code, MCP server and handoff all carry secrets leaves none of them in
its directory or its report — and words that merely contain a key's prefix intact."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.vendors.scripted import Reply
from tests.pipeline.conftest import BUGGY, TICKET, Outcome
from tests.pipeline.test_scripted_runs import PLAN, Plays, code, stages
from tests.vendors.cli_fixtures import MCP_STDIO_SERVER

KEY = "sk-ant-api03-" + "Redact0" * 6
SECRET = "mcp-token-" + uuid.uuid4().hex  # known by value only
WORD = "risk-assessment_module_v2"


@pytest.mark.docker
def test_no_secret_reaches_the_run_directory_or_its_report(
        run: Callable[..., Outcome], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", SECRET)
    planner = Plays([Reply("", [("symbols__read_env", {"name": "TOKEN"})]), *PLAN[1:]])
    mcp = {"name": "symbols", "command": [sys.executable, str(MCP_STDIO_SERVER)],
           "env": {"TOKEN": "${MY_TOKEN}"}}
    leaky = BUGGY + f"// {KEY} {WORD}\n"
    out = run(stages({"planner": planner, "coder": Plays(code(leaky))},
                     planner={"mcp_servers": [mcp]},
                     coder={"retry_budget": 0, "on_exhaust": "surface_to_human"}),
              ticket=TICKET + f"conventions: 'use {KEY} in {WORD}'\n")
    assert out.result.status == "needs_human"
    (result,) = planner.requests[1].messages[-1].tool_results
    assert result.content == SECRET  # it did reach the server, and came back to the model
    report = CliRunner().invoke(main, ["report", str(out.result.run_dir), "-o",
                                       str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    files = [p for root in (out.result.run_dir, tmp_path / "report")
             for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    names = {p.name for p in files}
    assert {"run.json", "final.diff", "HANDOFF.md", "report.md", "report.html"} <= names
    for path in files:
        text = path.read_text(errors="replace")
        assert KEY not in text, path
        assert SECRET not in text, path
    assert WORD in (out.result.run_dir / "run.json").read_text()
    assert "${MY_TOKEN}" in (out.result.run_dir / "run.json").read_text()
    assert f"[redacted] {WORD}" in (out.result.run_dir / "final.diff").read_text()


def test_an_unset_reference_is_refused_before_anything_runs(
        tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    calls: list[object] = []
    mcp = {"name": "symbols", "command": ["true"], "env": {"TOKEN": "${NOT_SET_ANYWHERE}"}}
    config = tmp_path / "stages.yaml"
    config.write_text(stages({"planner": lambda r: calls.append(r) or PLAN[1],  # type: ignore[func-returns-value]
                              "coder": Plays(code(BUGGY))}, planner={"mcp_servers": [mcp]}))
    ticket = tmp_path / "ticket.yaml"
    ticket.write_text(TICKET)
    result = CliRunner().invoke(main, ["run", str(ticket), "--repo", str(repo), "-c",
                                       str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert ("harness: planner.mcp_servers `symbols`: env refers to NOT_SET_ANYWHERE, which is "
            "not set — export NOT_SET_ANYWHERE before the run") in result.output
    assert calls == []
    assert not (tmp_path / "runs").exists()
