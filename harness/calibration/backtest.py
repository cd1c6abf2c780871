"""What the calibrated ceilings would have done to the history, out of sample.

Each successful run is judged by fits that did not see it: the usable runs are split into
``FOLDS`` interleaved folds in the order they ran, and each fold is predicted from the others
(k-fold cross-validation). An in-sample check would flatter the fit: a quantile fit always has
about ``1 - q`` of its own points above it. Unsuccessful runs, which the fits never use, are
judged by the fit on every usable run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import median
from typing import Literal

from harness.calibration.fit import fit_all, usable
from harness.calibration.model import RUN, Sample, StageFit
from harness.config.schema import ROLES, CalibrationConfig

FOLDS = 5
Prediction = tuple[float, float]  # (expected, ceiling) tokens


@dataclass(frozen=True)
class StageCheck:
    stage: str
    runs: int  # successful runs in which the stage spent tokens
    predicted: int  # of those, runs inside the range of the fit that judged them
    coverage: float | None  # share of predicted runs at or under their ceiling (about q)
    cap_share: float | None  # median of headroom × ceiling / token_cap
    rambling: list[str]  # successful runs over rambling_factor × expected
    action: Literal["flag", "stop"] = "flag"


@dataclass(frozen=True)
class RunCheck:
    runs: int
    predicted: int
    coverage: float | None
    cap_share: float | None  # median effective cap / token_cap (1.0: no tighter)
    stopped: list[str]  # successful runs whose tokens passed their effective cap
    failed: int  # unsuccessful runs with a decomposition
    failed_stopped: int  # of those, runs the effective cap would have stopped earlier
    tokens_saved: int  # what stopping them at the effective cap would have saved


@dataclass(frozen=True)
class Backtest:
    folds: int
    run: RunCheck
    stages: dict[str, StageCheck] = field(default_factory=dict)

    @property
    def wrongly_stopped(self) -> list[str]:
        """Successful runs the cap or a stage with ``on_rambling: stop`` would have ended."""
        stopped = set(self.run.stopped)
        for check in self.stages.values():
            if check.action == "stop":
                stopped.update(check.rambling)
        return sorted(stopped)


def _predict(fits: Mapping[str, StageFit], sample: Sample) -> dict[str, Prediction]:
    assert sample.shape is not None
    return {stage: (fit.expected.tokens(sample.shape), fit.ceiling.tokens(sample.shape))
            for stage, fit in fits.items() if fit.outside(sample.shape) is None}


def out_of_sample(good: Sequence[Sample], quantile: float) -> dict[str, dict[str, Prediction]]:
    """run_id -> stage -> prediction from the folds that left the run out."""
    k = min(FOLDS, len(good))
    found: dict[str, dict[str, Prediction]] = {}
    for fold in range(k):
        fits = fit_all([s for i, s in enumerate(good) if i % k != fold], quantile)
        for sample in good[fold::k]:
            found[sample.run_id] = _predict(fits, sample)
    return found


def _share(values: list[float]) -> float | None:
    return median(values) if values else None


def _stage_check(stage: str, good: Sequence[Sample], preds: Mapping[str, dict[str, Prediction]],
                 settings: CalibrationConfig, token_cap: int) -> StageCheck:
    ran = [s for s in good if s.spent(stage) > 0]
    judged = [(s, preds[s.run_id][stage]) for s in ran if stage in preds[s.run_id]]
    within = [s.spent(stage) <= ceiling for s, (_, ceiling) in judged]
    return StageCheck(
        stage, len(ran), len(judged), sum(within) / len(within) if within else None,
        _share([settings.headroom * ceiling / token_cap for _, (_, ceiling) in judged]),
        [s.run_id for s, (expected, _) in judged
         if s.spent(stage) > settings.rambling_factor * expected])


def _run_check(good: Sequence[Sample], failed: Sequence[Sample],
               preds: Mapping[str, dict[str, Prediction]], full: Mapping[str, StageFit], *,
               settings: CalibrationConfig, token_cap: int) -> RunCheck:
    def cap(prediction: Prediction | None) -> int:
        return token_cap if prediction is None else min(
            token_cap, round(settings.headroom * prediction[1]))

    caps = {s.run_id: cap(preds[s.run_id].get(RUN)) for s in good}
    judged = [s for s in good if RUN in preds[s.run_id]]
    within = [s.tokens <= preds[s.run_id][RUN][1] for s in judged]
    late = [(s, cap(_predict(full, s).get(RUN))) for s in failed]
    late = [(s, c) for s, c in late if s.tokens > c]
    return RunCheck(
        len(good), len(judged), sum(within) / len(within) if within else None,
        _share([caps[s.run_id] / token_cap for s in good]),
        [s.run_id for s in good if s.tokens > caps[s.run_id]], len(failed), len(late),
        sum(s.tokens - c for s, c in late))


def backtest(samples: Sequence[Sample], settings: CalibrationConfig, token_cap: int,
             on_rambling: Mapping[str, Literal["flag", "stop"]]) -> Backtest:
    good = usable(samples)
    fitted = {s.run_id for s in good}
    failed = [s for s in samples if s.shape is not None and s.run_id not in fitted]
    preds = out_of_sample(good, settings.quantile)
    full = fit_all(good, settings.quantile)
    checks = [replace(_stage_check(stage, good, preds, settings, token_cap),
                      action=on_rambling.get(stage, "flag")) for stage in ROLES]
    run = _run_check(good, failed, preds, full, settings=settings, token_cap=token_cap)
    return Backtest(min(FOLDS, len(good)), run, {c.stage: c for c in checks if c.runs})
