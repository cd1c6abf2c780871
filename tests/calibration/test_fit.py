"""The fits recover known formulas from noisy synthetic histories, within stated tolerances.

Histories: 300 resolved runs, each stage's tokens = TRUTH formula × e^N(0, 0.2), decompositions
of 1-10 sub-tickets. Over 40 seeds the worst errors measured were: median-fit exponents 0.08,
ceiling (q0.95) exponents 0.15, predicted tokens 9.5 % (expected) and 16 % (ceiling) at small,
typical and large shapes. The tolerances below leave a margin over those and run five seeds.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from harness.calibration.fit import calibrate, fit_stage, quantile_regression
from harness.calibration.model import RUN, Shape
from tests.calibration.synthetic import TRUTH, history, samples, truth

SIGMA = 0.2
EXPONENT_TOLERANCE = {"expected": 0.10, "ceiling": 0.20}
TOKENS_TOLERANCE = {"expected": 0.12, "ceiling": 0.20}  # relative
SHAPES = [Shape(1, 1, 2), Shape(5, 3, 10), Shape(10, 4, 30)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_fit_recovers_each_stage_formula(seed: int) -> None:
    cal = calibrate(samples(history(300, seed=seed, sigma=SIGMA)), min_runs=20, quantile=0.95)
    assert cal.active
    assert cal.usable_runs == 300
    shift = math.exp(SIGMA * NormalDist().inv_cdf(0.95))  # the q0.95 of the noise
    for stage, (_, exponents) in TRUTH.items():
        fit = cal.fits[stage]
        for which in ("expected", "ceiling"):
            formula = getattr(fit, which)
            for feature, slope in formula.slopes:
                assert slope == pytest.approx(exponents[feature],
                                              abs=EXPONENT_TOLERANCE[which]), (stage, which)
            for shape in SHAPES:
                want = truth(stage, shape) * (shift if which == "ceiling" else 1.0)
                assert formula.tokens(shape) == pytest.approx(
                    want, rel=TOKENS_TOLERANCE[which]), (stage, which, shape)
        assert fit.r1_expected > 0.5  # the decomposition explains most of the spread


def test_the_ceiling_covers_its_quantile_of_the_history() -> None:
    good = samples(history(400, seed=9, sigma=SIGMA))
    fit = calibrate(good, min_runs=20, quantile=0.9).fits["coder"]
    assert fit.ceiling.quantile == 0.9
    under = [s.spent("coder") <= fit.ceiling.tokens(s.shape) for s in good if s.shape]
    assert sum(under) / len(under) == pytest.approx(0.9, abs=0.02)


def test_a_noise_free_history_is_fitted_exactly() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(50), rng.uniform(0, 2, 50), rng.uniform(0, 3, 50)])
    beta = np.array([9.0, 0.8, -0.3])
    for q in (0.5, 0.95):
        assert quantile_regression(x, x @ beta, q) == pytest.approx(beta, abs=1e-6)


def test_a_feature_that_never_varied_has_no_exponent() -> None:
    shapes = [Shape(1, 1, o) for o in range(1, 13)]
    fit = fit_stage("coder", shapes, [round(1000 * (1 + s.operations) ** 0.5) for s in shapes],
                    0.95)
    assert fit is not None
    assert [f for f, _ in fit.expected.slopes] == ["operations"]
    assert dict(fit.expected.slopes)["operations"] == pytest.approx(0.5, abs=1e-3)
    assert fit.outside(Shape(1, 1, 5)) is None
    assert fit.outside(Shape(2, 1, 5)) == "sub_tickets 2 is outside the history's 1..1"
    assert fit.outside(Shape(1, 1, 40)) == "operations 40 is outside the history's 1..12"
    assert fit.expected.describe() == "1,000 · (1+operations)^0.50"


def test_too_few_runs_give_no_fit() -> None:
    shapes = [Shape(s, 1, s) for s in (1, 2, 3, 4)]
    assert fit_stage("coder", shapes, [100, 200, 300, 400], 0.95) is None


def test_only_resolved_runs_with_a_decomposition_are_fitted() -> None:
    states = history(30, seed=3)
    for state in states[:6]:
        state["status"] = "halted"
    del states[6]["decomposition"]
    cal = calibrate(samples(states), min_runs=24, quantile=0.95)
    assert cal.usable_runs == 23
    assert not cal.active  # 23 < min_runs 24
    assert cal.fits[RUN].runs == 23
    assert cal.stage("coder") is None  # fitted, but on fewer than min_runs runs
