"""Calibrated ceilings in real runs: the real sandbox, every stage played by the scripted vendor
with stated token counts, against a history seeded for the test repository's project.

The seeded runs all have the test ticket's decomposition (1 sub-ticket, chain 1, 1 operation),
so each fit is the history's quantile of that stage: planner ~1,000, coder ~3,000, reviewer
~500 tokens; the run's q0.95 ceiling is ~4,700 and, with headroom 4, its cap ~19,000.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.calibration.history_db import HistoryDB, HistoryError
from harness.calibration.model import Shape
from harness.calibration.project import history_file, project_id
from harness.runs.execute import RunRequest, execute
from harness.vendors.scripted import Reply
from harness.vendors.types import Usage
from tests.calibration.synthetic import run_state
from tests.pipeline.conftest import FIXED, Outcome
from tests.pipeline.test_scripted_runs import APPROVE, PLAN, Play, Plays, code, stages

TICKET_SHAPE = Shape(1, 1, 1)


def spending(play: Play, tokens_each: int) -> Play:
    """The same replies, each reporting ``tokens_each`` input tokens."""
    return [dataclasses.replace(r, usage=Usage(tokens_each, 0)) for r in play]


def seed_history(directory: Path, repo: Path, runs: int) -> HistoryDB:
    project = project_id(repo)
    db = HistoryDB(history_file(directory, project), project)
    for i in range(runs):
        wobble = 1 + (i % 5 - 2) / 100  # ±2 %
        db.add(run_state(f"seed-{i:02d}", TICKET_SHAPE, {
            "planner": round(1000 * wobble), "coder": round(3000 * wobble),
            "reviewer": round(500 * wobble)}, day=i))
    return db


def config(tmp_path: Path, *, coder_tokens: int, on_rambling: str = "flag",
           min_runs: int = 20) -> str:
    scripts = {"planner": Plays(spending(PLAN, 500)),
               "coder": Plays(spending(code(FIXED), coder_tokens)),
               "reviewer": Plays(spending(APPROVE, 500))}
    calibration = {"history": str(tmp_path / "history"), "min_runs": min_runs, "headroom": 4,
                   "rambling_factor": 2}
    return (stages(scripts, coder={"on_rambling": on_rambling}) +
            f"calibration: {json.dumps(calibration)}\n")


def events(out: Outcome, kind: str) -> list[dict[str, Any]]:
    lines = (out.result.run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


@pytest.fixture
def seeded(tmp_path: Path, repo: Path) -> Callable[[int], HistoryDB]:
    return lambda runs: seed_history(tmp_path / "history", repo, runs)


@pytest.mark.docker
def test_a_rambling_coder_is_flagged(run: Callable[..., Outcome], tmp_path: Path,
                                     seeded: Callable[[int], HistoryDB]) -> None:
    db = seeded(20)
    out = run(config(tmp_path, coder_tokens=3000))  # 3 turns: 9,000 > 2 × 3,000
    assert out.result.status == "resolved", out.result.detail
    calibration = out.state["calibration"]
    assert calibration["source"] == "calibrated"
    assert 4 * 4500 < calibration["effective_cap"] < 4 * 4800
    (rambling,) = out.state["rambling"]
    assert rambling == {"stage": "coder", "tokens": 9000, "expected": 3000, "factor": 2,
                        "action": "flag"}
    (event,) = events(out, "rambling")
    assert "coder is rambling: 9,000 tokens > 2 × its expected 3,000" in event["message"]
    assert events(out, "ceiling")[0]["effective_cap"] == calibration["effective_cap"]
    assert out.state["history"] == {"recorded": True, "file": str(db.path)}
    assert db.count() == 21  # the finished run joined its project's history


@pytest.mark.docker
def test_a_rambling_coder_is_stopped_under_stop(run: Callable[..., Outcome], tmp_path: Path,
                                                seeded: Callable[[int], HistoryDB]) -> None:
    seeded(20)
    out = run(config(tmp_path, coder_tokens=3000, on_rambling="stop"))
    assert out.result.status == "rambling_stopped"
    assert out.result.exit_code == 1
    assert out.state["stopped_in"] == "coder"
    assert "coder is rambling" in out.state["detail"]
    assert out.outcomes() == ["accepted", "passed"]  # the Reviewer never ran
    assert out.result.patch.exists()


@pytest.mark.docker
def test_the_calibrated_cap_stops_a_run_the_fixed_cap_allows(
        run: Callable[..., Outcome], tmp_path: Path,
        seeded: Callable[[int], HistoryDB]) -> None:
    seeded(20)
    out = run(config(tmp_path, coder_tokens=8000))  # 1,000 + 3 × 8,000 > ~19,000 < 500,000
    assert out.result.status == "token_cap_exceeded"
    assert "calibrated token ceiling crossed" in out.state["detail"]
    assert out.state["totals"]["tokens"] < 500_000  # the stages file's fixed token_cap


@pytest.mark.docker
def test_below_min_runs_the_fixed_cap_applies_and_the_run_says_so(
        run: Callable[..., Outcome], tmp_path: Path,
        seeded: Callable[[int], HistoryDB]) -> None:
    db = seeded(5)
    out = run(config(tmp_path, coder_tokens=8000))  # would cross a calibrated cap
    assert out.result.status == "resolved", out.result.detail
    calibration = out.state["calibration"]
    assert calibration["source"] == "fixed"
    assert calibration["effective_cap"] == 500_000
    assert "5 usable runs, below calibration.min_runs 20" in calibration["note"]
    (event,) = events(out, "calibration")
    assert event["source"] == "fixed"
    assert "rambling" not in out.state
    assert db.count() == 6


def test_an_unusable_history_stops_the_run_before_anything_is_spent(
        tmp_path: Path, repo: Path) -> None:
    path = history_file(tmp_path / "history", project_id(repo))
    path.parent.mkdir()
    path.write_bytes(b"\x00garbage" * 100)
    calls: list[Any] = []
    counting: Play = [Reply("x")]
    scripts = {"planner": lambda r: calls.append(r) or counting[0], "coder": Plays(counting)}
    stages_file = tmp_path / "stages.yaml"
    stages_file.write_text(stages(scripts) + f"calibration: {{history: {tmp_path / 'history'}}}\n")
    ticket = tmp_path / "t.yaml"
    ticket.write_text("id: T-9\ntitle: x\n")
    with pytest.raises(HistoryError, match="cannot use this run history"):
        execute(RunRequest(ticket, repo, stages_file, tmp_path / "runs"))
    assert calls == []
    assert not (tmp_path / "runs").exists()
    assert path.read_bytes() == b"\x00garbage" * 100
