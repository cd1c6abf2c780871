"""Nothing crashes and nothing is left `running`: a model's ordinary bad tool calls are error
results it can correct; an exception nothing expected ends the run `error` with its traceback in
crash.txt; and no `harness` command ends in a traceback — one line says where the details are."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.vendors.scripted import Reply
from harness.vendors.types import ModelRequest
from tests.pipeline.conftest import FIXED, TICKET, Outcome
from tests.pipeline.test_scripted_runs import PLAN, Plays, code, stages

BAD_CALLS = [Reply("", [("write_file", {"path": "src/slug.js/x", "content": "x"})]),
             Reply("", [("write_file", {"path": "src/" + "n" * 300 + ".js", "content": "x"})]),
             Reply("", [("read_file", {"path": "README.md/x"})]),
             *code(FIXED)]


def broken_script(request: ModelRequest) -> Reply:
    raise ZeroDivisionError("a bug in somebody's script")


@pytest.mark.docker
def test_bad_tool_calls_are_error_results_and_the_run_goes_on(
        run: Callable[..., Outcome]) -> None:
    coder = Plays(BAD_CALLS)
    out = run(stages({"planner": Plays(PLAN), "coder": coder}))
    assert out.result.status == "resolved", out.result.detail
    results = [r for m in coder.requests[-1].messages for r in m.tool_results]
    errors = [r.content for r in results if r.is_error]
    assert errors[:3] == ["write_file failed: Not a directory: src/slug.js/x",
                          "write_file failed: File name too long: " + f"src/{'n' * 300}.js"[:300],
                          "read_file failed: Not a directory: README.md/x"]


@pytest.mark.docker
def test_an_unexpected_exception_ends_the_run_as_error(run: Callable[..., Outcome]) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": broken_script}))
    assert out.result.status == out.state["status"] == "error"
    crash = out.result.run_dir / "crash.txt"
    assert out.state["crash"] == "crash.txt"
    assert "ZeroDivisionError: a bug in somebody's script" in crash.read_text()
    assert "Traceback" in crash.read_text()
    assert out.result.detail.startswith("unexpected ZeroDivisionError: a bug in somebody's "
                                        "script — details in ")
    assert str(crash) in out.result.detail
    events = [json.loads(line) for line in (out.result.run_dir / "events.jsonl").open()]
    assert events[-1] == {**events[-1], "event": "run_end", "status": "error"}


@pytest.mark.docker
def test_harness_run_prints_no_traceback(tmp_path: Path, repo: Path) -> None:
    config = tmp_path / "stages.yaml"
    config.write_text(stages({"planner": Plays(PLAN), "coder": broken_script}))
    ticket = tmp_path / "ticket.yaml"
    ticket.write_text(TICKET)
    result = CliRunner().invoke(main, ["run", str(ticket), "--repo", str(repo), "-c",
                                       str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    flat = "".join(result.output.split())  # rich wraps long lines at the terminal's width
    assert "error:unexpectedZeroDivisionError:abuginsomebody'sscript—detailsin" \
           f"{run_dir / 'crash.txt'}" in flat
    assert f"rundirectory:{run_dir}" in flat
    assert "patch:" not in flat  # there is none


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_any_command_ends_in_one_line_and_a_details_file(tmp_path: Path, home: Path) -> None:
    run_dir = tmp_path / "runs" / "T-1-x"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text('{"status": "halted"}')  # no config: nothing to replay
    result = CliRunner().invoke(main, ["reproduce", str(run_dir), "--replay"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.output.splitlines()
    (details,) = (home / "crashes").iterdir()
    assert line == (f"harness: unexpected error in `harness reproduce {run_dir} --replay`: "
                    f"KeyError: 'config'; details written to {details}")
    text = details.read_text()
    assert text.startswith(f"$ harness reproduce {run_dir} --replay\nTraceback")
    assert "KeyError: 'config'" in text


