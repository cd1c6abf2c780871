"""The backtest's numbers on a history whose answer is known.

Every stage takes a fixed share of one power law T(shape), so the run's total is T itself, times
a noise of ±1 % (exactly on the line, rounding to whole tokens would decide which runs sit above
a ceiling). Twelve shapes repeat in an order that puts each of them in every fold's training
runs. Planted runs then say exactly which runs the backtest must find: the few outliers (under
5 % of the runs) cannot move a q0.95 fit, which stays within 1 % of T.
"""

from __future__ import annotations

import math
import random
from statistics import median
from typing import Any

import pytest

from harness.calibration.backtest import backtest
from harness.calibration.ceilings import Ceilings
from harness.calibration.fit import calibrate
from harness.calibration.model import RUN, Shape
from harness.config.schema import CalibrationConfig
from tests.calibration.synthetic import run_state, samples

SHARE = {"planner": 0.3, "coder": 0.6, "reviewer": 0.1}
SHAPES = [Shape(s, d, o) for s, d, o in [(1, 1, 1), (1, 1, 3), (2, 1, 2), (2, 2, 6), (3, 1, 4),
                                         (3, 3, 9), (4, 2, 5), (5, 2, 12), (6, 3, 8), (7, 4, 20),
                                         (8, 2, 15), (9, 5, 30)]]
TOKEN_CAP = 2_000_000
SETTINGS = CalibrationConfig(headroom=1.5, rambling_factor=3.0, quantile=0.95)
# run index -> (stage multipliers, status)
PLANTED: dict[int, tuple[dict[str, float], str]] = {
    7: ({"coder": 5.0}, "resolved"),     # rambles (5 > 3) and the run passes 1.5 × T: stopped
    31: ({"coder": 5.0}, "resolved"),
    88: ({"coder": 5.0}, "resolved"),
    50: ({"reviewer": 4.0}, "resolved"),  # rambles, but the run stays under 1.5 × T (1.3 T)
    99: ({"reviewer": 4.0}, "resolved"),
    64: ({"planner": 2.0}, "resolved"),   # over its ceiling (1.3 T), neither rambling nor capped
    240: ({"coder": 8 / 3}, "halted"),    # 2 T: a failed run the cap would have cut at 1.5 T
    241: ({"planner": 5 / 3}, "needs_human"),  # 1.2 T: failed, but under the cap
}
N = 240  # successful runs; the two failed ones come after them


def t_of(shape: Shape) -> float:
    return 40_000 * shape.sub_tickets ** 0.8 * shape.chain_depth ** 0.2 * (
        1 + shape.operations) ** 0.3


def planted_history() -> list[dict[str, Any]]:
    rng = random.Random(4)
    states = []
    for i in range(N + 2):
        shape = SHAPES[i % len(SHAPES)]
        factors, status = PLANTED.get(i, ({}, "resolved"))
        noise = math.exp(rng.uniform(-0.01, 0.01))
        tokens = {stage: round(share * t_of(shape) * factors.get(stage, 1.0) * noise)
                  for stage, share in SHARE.items()}
        states.append(run_state(f"R{i:03d}", shape, tokens, status=status, day=i))
    return states


def test_the_backtest_finds_exactly_the_planted_runs() -> None:
    test = backtest(samples(planted_history()), SETTINGS, TOKEN_CAP,
                    {"coder": "stop", "reviewer": "flag", "planner": "flag"})
    assert test.folds == 5
    run = test.run
    assert (run.runs, run.predicted) == (N, N)  # every run judged out of sample
    assert run.stopped == ["R007", "R031", "R088"]
    # Above their ceiling: the 6 planted runs (3 coder, 2 reviewer, 1 planner) and about 5 % of
    # the others (the ceiling is their q0.95).
    assert run.coverage == pytest.approx(0.95 * (N - 6) / N, abs=0.04)
    stages = test.stages
    assert stages["coder"].rambling == ["R007", "R031", "R088"]
    assert stages["reviewer"].rambling == ["R050", "R099"]
    assert stages["planner"].rambling == []
    assert stages["coder"].coverage == pytest.approx(0.95 * (N - 3) / N, abs=0.04)
    # coder stops (its ramblers were capped anyway); the reviewer's only flag
    assert test.wrongly_stopped == ["R007", "R031", "R088"]
    assert (run.failed, run.failed_stopped) == (2, 1)
    halted = SHAPES[240 % len(SHAPES)]
    # the halted run (2 T) would have stopped at 1.5 × a ceiling within 1 % of T
    assert run.tokens_saved == pytest.approx(0.5 * t_of(halted), rel=0.05)


def test_how_much_tighter_the_cap_is_than_the_fixed_one() -> None:
    test = backtest(samples(planted_history()), SETTINGS, TOKEN_CAP, {})
    caps = [min(TOKEN_CAP, 1.5 * t_of(SHAPES[i % len(SHAPES)])) / TOKEN_CAP for i in range(N)]
    assert test.run.cap_share == pytest.approx(median(caps), rel=0.02)
    coder = [0.6 * 1.5 * t_of(SHAPES[i % len(SHAPES)]) / TOKEN_CAP for i in range(N)]
    assert test.stages["coder"].cap_share == pytest.approx(median(coder), rel=0.02)


def test_the_run_time_ceilings_agree_with_the_backtest() -> None:
    """The fit on the whole history is exact, so a run of each shape gets 1.5 × T."""
    good = samples(planted_history())
    cal = calibrate(good, min_runs=20, quantile=0.95)
    ceilings = Ceilings(TOKEN_CAP, SETTINGS, {"coder": "stop"}, cal, "test")
    for shape in SHAPES:
        decision = ceilings.cap(shape)
        assert decision.source == "calibrated"
        assert decision.cap == pytest.approx(1.5 * t_of(shape), rel=0.02)
        assert ceilings.expected("coder", shape) == pytest.approx(0.6 * t_of(shape), rel=0.01)
    shape = SHAPES[3]
    assert ceilings.rambling("coder", round(1.7 * t_of(shape)), shape) is None  # 2.8 × expected
    found = ceilings.rambling("coder", round(1.9 * t_of(shape)), shape)
    assert found is not None
    assert found.action == "stop"
    assert ceilings.rambling("reviewer", round(0.5 * t_of(shape)), shape).action == "flag"
    assert cal.fits[RUN].r1_expected > 0.9
    assert math.isclose(cal.fits[RUN].ceiling.tokens(shape), t_of(shape), rel_tol=0.02)
