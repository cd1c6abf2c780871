"""Fitting the history: linear quantile regression of log tokens on the log decomposition.

Why this model. Token use is multiplicative (a ticket twice the size costs roughly a constant
factor more, and noise is a percentage, not a fixed count), so it is modelled on a log scale as
a power law of sub-tickets, chain depth and operations (see ``model``). A ceiling is a quantile,
not a mean: quantile regression fits the q-th conditional quantile directly, makes no normality
assumption, lets the spread grow with ticket size, and is not dragged up by the few runaway
runs a circuit breaker exists for. The expected figure is the median fit (q = 0.5).

Why plain numpy. The check loss has no closed form; it is minimised by iteratively reweighted
least squares (each step one ``numpy.linalg.lstsq`` on at most four columns), which converges
in tens of steps on histories of hundreds of runs. That is about twenty lines, where scipy's
``linprog`` or statsmodels' ``QuantReg`` would add a large dependency (and, for statsmodels,
pandas) for one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.calibration.model import (
    EXPECTED_QUANTILE,
    FEATURES,
    RUN,
    SUCCESS,
    Calibration,
    Formula,
    Sample,
    Shape,
    StageFit,
)
from harness.config.schema import ROLES

Vector = NDArray[np.floating[Any]]
MAX_STEPS = 500
TOLERANCE = 1e-10  # relative change of the check loss at which IRLS stops
FLOOR = 1e-6  # residuals below this (on the log scale) are weighted as if this large


def check_loss(residuals: Vector, q: float) -> float:
    """Σ ρ_q(r): r·q above the line, r·(q−1) below it."""
    return float(np.sum(np.where(residuals > 0, q * residuals, (q - 1) * residuals)))


def quantile_regression(x: Vector, y: Vector, q: float) -> Vector:
    """Coefficients minimising the check loss at ``q`` (IRLS from the least-squares start)."""
    beta: Vector = np.linalg.lstsq(x, y, rcond=None)[0]
    loss = check_loss(y - x @ beta, q)
    for _ in range(MAX_STEPS):
        residuals = y - x @ beta
        # ρ_q(r) = w·r² with w = (q or 1−q)/|r|: weighted least squares with those weights.
        root = np.sqrt(np.where(residuals > 0, q, 1 - q) / np.maximum(np.abs(residuals), FLOOR))
        step: Vector = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
        new = check_loss(y - x @ step, q)
        if new > loss:  # IRLS is not monotone near a vertex: keep the best point seen
            break
        converged = loss - new <= TOLERANCE * max(loss, 1.0)
        beta, loss = step, new
        if converged:
            break
    return beta


def _design(shapes: Sequence[Shape], features: Sequence[str]) -> Vector:
    columns = [[1.0] * len(shapes), *([s.x(f) for s in shapes] for f in features)]
    return np.array(columns, dtype=np.float64).T


def _formula(x: Vector, y: Vector, features: Sequence[str], q: float) -> tuple[Formula, float]:
    """The fit at ``q`` and its R¹ (1 − its check loss / the intercept-only check loss)."""
    beta = quantile_regression(x, y, q)
    baseline = check_loss(y - float(np.quantile(y, q)), q)
    r1 = 1.0 - check_loss(y - x @ beta, q) / baseline if baseline > 0 else 1.0
    return Formula(q, float(beta[0]), tuple(zip(features, map(float, beta[1:]), strict=True))), r1


def fit_stage(stage: str, shapes: Sequence[Shape], tokens: Sequence[int],
              quantile: float) -> StageFit | None:
    """The expected and ceiling fits of one stage, or None with too few runs to fit."""
    features = [f for f in FEATURES if len({s.raw(f) for s in shapes}) > 1]
    if len(shapes) < len(features) + 3:  # fewer and the quantile fit interpolates the points
        return None
    x, y = _design(shapes, features), np.log(np.array(tokens, dtype=np.float64))
    expected, r1_expected = _formula(x, y, features, EXPECTED_QUANTILE)
    ceiling, r1_ceiling = _formula(x, y, features, quantile)
    bounds = tuple((f, min(s.raw(f) for s in shapes), max(s.raw(f) for s in shapes))
                   for f in FEATURES)
    return StageFit(stage, len(shapes), expected, ceiling, r1_expected, r1_ceiling, bounds)


def usable(samples: Sequence[Sample]) -> list[Sample]:
    """Resolved runs with a decomposition: what a successful run of a given shape takes.
    Runs cut short (caps, rambling, errors, interruptions) would bias the fit low."""
    return [s for s in samples if s.status == SUCCESS and s.shape is not None]


def fit_all(samples: Sequence[Sample], quantile: float) -> dict[str, StageFit]:
    """A fit for the run's total and for every stage that spent tokens in enough runs (each
    stage on the runs where it ran: a Debugger that rarely fires is fitted on its firings)."""
    fits = {}
    for stage in (RUN, *ROLES):
        ran = [s for s in samples if s.shape is not None and s.spent(stage) > 0]
        fit = fit_stage(stage, [s.shape for s in ran if s.shape is not None],
                        [s.spent(stage) for s in ran], quantile)
        if fit is not None:
            fits[stage] = fit
    return fits


def calibrate(samples: Sequence[Sample], *, min_runs: int, quantile: float) -> Calibration:
    good = usable(samples)
    return Calibration(len(good), min_runs, quantile, fit_all(good, quantile))
