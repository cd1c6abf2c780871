"""What a calibration is, free of numpy: the decomposition a run is measured by (``Shape``), a
fitted power law (``Formula``), one stage's pair of fits (``StageFit``) and the set of them.

Tokens are modelled on a log scale as a power law of the decomposition:

    ln tokens = b0 + b1·ln(sub_tickets) + b2·ln(chain_depth) + b3·ln(1 + operations)

so ``tokens = e^b0 · sub_tickets^b1 · chain_depth^b2 · (1+operations)^b3``. Operations may be 0,
hence ``1 +``; sub-tickets and chain depth are at least 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FEATURES: tuple[str, ...] = ("sub_tickets", "chain_depth", "operations")
RUN = "run"  # the pseudo-stage whose tokens are the run's total: its ceiling caps the run
EXPECTED_QUANTILE = 0.5  # "expected" is the median: robust to the long tail of bad runs
SUCCESS = "resolved"


@dataclass(frozen=True)
class Shape:
    """A run's decomposition, as the fits see it."""

    sub_tickets: int
    chain_depth: int
    operations: int

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Shape:
        """From a run.json ``decomposition`` (or anything with the three counts)."""
        return cls(int(data["sub_tickets"]), int(data["chain_depth"]), int(data["operations"]))

    def raw(self, feature: str) -> int:
        value: int = getattr(self, feature)
        return value

    def x(self, feature: str) -> float:
        """The regressor for ``feature``: its logarithm (of 1 + the count for operations)."""
        value = self.raw(feature)
        return math.log1p(value) if feature == "operations" else math.log(max(value, 1))

    def describe(self) -> str:
        return (f"{self.sub_tickets} sub-ticket{'s' * (self.sub_tickets != 1)}, chain depth "
                f"{self.chain_depth}, {self.operations} operation{'s' * (self.operations != 1)}")

    def as_dict(self) -> dict[str, int]:
        return {f: self.raw(f) for f in FEATURES}


def _term(feature: str, exponent: float) -> str:
    base = "(1+operations)" if feature == "operations" else feature
    return f"{base}^{exponent:.2f}"


@dataclass(frozen=True)
class Formula:
    """``tokens = e^intercept · Π feature^slope`` at one quantile. Features that never varied in
    the history have no slope (their effect is in the intercept)."""

    quantile: float
    intercept: float
    slopes: tuple[tuple[str, float], ...]

    def log_tokens(self, shape: Shape) -> float:
        return self.intercept + sum(b * shape.x(f) for f, b in self.slopes)

    def tokens(self, shape: Shape) -> float:
        return math.exp(self.log_tokens(shape))

    def describe(self) -> str:
        return " · ".join([f"{math.exp(self.intercept):,.0f}",
                           *(_term(f, b) for f, b in self.slopes)])

    def as_dict(self) -> dict[str, Any]:
        return {"quantile": self.quantile, "intercept": self.intercept,
                "scale": math.exp(self.intercept), "exponents": dict(self.slopes),
                "formula": self.describe()}


@dataclass(frozen=True)
class StageFit:
    """One stage's tokens per run (or the run's total, for ``RUN``) against the decomposition:
    the expected (median) figure and the ceiling (the configured quantile)."""

    stage: str
    runs: int
    expected: Formula
    ceiling: Formula
    r1_expected: float  # Koenker–Machado R¹: 1 - check loss / check loss of the intercept alone
    r1_ceiling: float
    bounds: tuple[tuple[str, int, int], ...]  # each feature's observed (min, max)

    def outside(self, shape: Shape) -> str | None:
        """Why ``shape`` is outside what the history covers, or None. A power law fitted on
        small tickets says little about a much larger one, so such runs keep the fixed cap."""
        for feature, low, high in self.bounds:
            value = shape.raw(feature)
            if not low <= value <= high:
                return f"{feature} {value} is outside the history's {low}..{high}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "runs": self.runs, "expected": self.expected.as_dict(),
                "ceiling": self.ceiling.as_dict(), "r1_expected": self.r1_expected,
                "r1_ceiling": self.r1_ceiling,
                "bounds": {f: [low, high] for f, low, high in self.bounds}}


@dataclass(frozen=True)
class Calibration:
    """Every fit a project's history supports. ``usable_runs`` are resolved runs with a
    decomposition: the fits describe what a *successful* run of a given shape takes."""

    usable_runs: int
    min_runs: int
    quantile: float
    fits: Mapping[str, StageFit]

    @property
    def active(self) -> bool:
        """Whether runs are held to the calibrated ceiling (else: the fixed cap alone)."""
        return self.usable_runs >= self.min_runs and RUN in self.fits

    def stage(self, name: str) -> StageFit | None:
        """``name``'s fit when it rests on at least ``min_runs`` runs."""
        fit = self.fits.get(name)
        return fit if fit is not None and fit.runs >= self.min_runs else None


@dataclass(frozen=True)
class Sample:
    """One run as the fits see it: its shape, status, total tokens and tokens by stage."""

    run_id: str
    status: str
    shape: Shape | None
    tokens: int
    stage_tokens: dict[str, int]

    def spent(self, stage: str) -> int:
        return self.tokens if stage == RUN else self.stage_tokens.get(stage, 0)
