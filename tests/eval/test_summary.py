"""The eval's figures and table from rows alone (engine-free)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.eval.run import EvalResult, labels, render, stage_figures
from harness.eval.summary import compare_all, summarize


def row(ticket: str, resolved: bool, cost: float, status: str = "resolved") -> dict[str, object]:
    return {"ticket": ticket, "status": status, "resolved": resolved, "cost_usd": cost,
            "tokens": 1000, "duration_s": 10.0, "grade": {"outcome": "resolved" if resolved
                                                          else "unresolved"},
            "stages": {"planner": {"tokens": 400, "duration_s": 2.0},
                       "coder": {"tokens": 600, "duration_s": 8.0}},
            "outcomes": ["planner:accepted", "coder:passed"]}


A = [row("i-1", True, 0.25), row("i-2", False, 0.5, "halted"), row("i-3", True, 0.25)]
B = [row("i-1", True, 0.125), row("i-2", True, 0.125), row("i-3", True, 0.125)]


def test_per_config_figures() -> None:
    s = summarize("a", A)
    assert (s.instances, s.resolved, s.rate) == (3, 2, pytest.approx(2 / 3))
    assert s.cost_usd == 1.0
    assert s.cost_per_instance == pytest.approx(1 / 3)
    assert s.cost_per_resolved == 0.5
    assert s.stage_tokens == {"planner": 1200, "coder": 1800}
    assert s.stage_seconds == {"planner": 6.0, "coder": 24.0}
    assert s.statuses == {"resolved": 2, "halted": 1}
    assert s.outcomes == {"planner:accepted": 3, "coder:passed": 3}
    assert summarize("none", []).cost_per_resolved is None


def test_the_table_shows_costs_and_the_paired_difference() -> None:
    rows = {"a": A, "b": B}
    (c,) = compare_all(rows)
    assert c.cost.mean == pytest.approx((0.375 - 1.0) / 3)
    assert c.resolved.mean == pytest.approx(1 / 3)
    text = render(EvalResult(rows, [summarize(k, v) for k, v in rows.items()], [c]))
    assert "$1.000000" in text
    assert "$0.375000" in text
    assert "$0.500000" in text  # a's cost per resolved instance
    assert "-$0.208333" in text  # the difference per instance, b - a
    assert "+33.3%" in text
    assert "10,000 resamples" in text


def test_stage_figures_from_run_json() -> None:
    state = {"attempts": [
        {"stage": "planner", "tokens": 10, "cost_usd": 0.5, "duration_s": 1.0,
         "outcome": "accepted"},
        {"stage": "coder", "tokens": 20, "cost_usd": 0.25, "duration_s": 2.0,
         "outcome": "tests_failed"},
        {"stage": "coder", "tokens": 30, "cost_usd": 0.25, "duration_s": 3.0,
         "outcome": "passed"}]}
    got = stage_figures(state)
    assert got["stages"]["coder"] == {"tokens": 50, "cost_usd": 0.5, "duration_s": 5.0,
                                      "attempts": 2}
    assert got["outcomes"] == ["planner:accepted", "coder:tests_failed", "coder:passed"]
    assert stage_figures(None) == {"stages": {}, "outcomes": []}


def test_labels_are_stems_made_unique() -> None:
    assert labels([Path("x/a.yaml"), Path("y/a.yaml"), Path("b.yml")]) == ["a", "a-2", "b"]
