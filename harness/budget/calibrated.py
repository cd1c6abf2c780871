"""The calibrated figures behind ``harness cost --ticket``: the project's run history, fitted,
turned into the estimate's ``Calibrated`` figures for one ticket's decomposition (its latest
recorded plan's, else the history's typical one) (docs/calibration.md). Imports numpy (the
fits): only ``harness cost --ticket`` loads it."""

from __future__ import annotations

from statistics import median

from harness.budget.estimate import Calibrated
from harness.budget.expectations import RoleTokens
from harness.calibration.ceilings import Ceilings
from harness.calibration.fit import calibrate as fit_history
from harness.calibration.history_db import HistoryDB
from harness.calibration.model import Sample, Shape
from harness.stages import RunPlan


def calibrated_figures(plan: RunPlan, db: HistoryDB, ticket: str) -> tuple[Calibrated | None,
                                                                             list[str]]:
    """The history's figures for ``ticket`` (None: too few usable runs, the package defaults
    apply) and lines saying which figures and which decomposition were used, and why."""
    samples = db.samples()
    ceilings = _ceilings(plan, db, samples)
    cal = ceilings.calibration
    assert cal is not None
    if not ceilings.active:
        return None, [f"calibration: none — {cal.usable_runs} usable runs in {db.path}, below "
                      f"calibration.min_runs {plan.config.calibration.min_runs}"]
    shape, whence = _shape(db, samples, ticket)
    return _figures(plan, db, ceilings, shape, whence=whence, samples=samples)


def _ceilings(plan: RunPlan, db: HistoryDB, samples: list[Sample]) -> Ceilings:
    s = plan.config.calibration
    on_rambling = {role: stage.on_rambling for role, stage in plan.config.stages.items()}
    return Ceilings(plan.config.token_cap, s, on_rambling,
                    fit_history(samples, min_runs=s.min_runs, quantile=s.quantile),
                    f"history {db.path}")


def _shape(db: HistoryDB, samples: list[Sample], ticket: str) -> tuple[Shape, str]:
    latest = db.latest_shape(ticket)
    if latest is not None:
        return latest[1], f"the decomposition of {ticket}'s latest recorded plan (run {latest[0]})"
    shapes = [s.shape for s in samples if s.shape is not None]
    typical = Shape(*(round(median(sh.raw(f) for sh in shapes)) for f in
                      ("sub_tickets", "chain_depth", "operations")))
    return typical, f"the history's median decomposition ({ticket} has no recorded plan yet)"


def _scale(ceilings: Ceilings, stage: str, shape: Shape, samples: list[Sample]) -> float:
    """How much larger a stage's attempts are for ``shape`` than in the history's typical run
    (median attempts are measured over every decomposition)."""
    here = ceilings.expected(stage, shape)
    typical = [e for s in samples if s.shape and (e := ceilings.expected(stage, s.shape))]
    return here / median(typical) if here and typical else 1.0


def _figures(plan: RunPlan, db: HistoryDB, ceilings: Ceilings, shape: Shape, *, whence: str,
             samples: list[Sample]) -> tuple[Calibrated, list[str]]:
    decision = ceilings.cap(shape)
    run_tokens = {role: n for role in plan.stages
                  if (n := ceilings.expected(role, shape)) is not None}
    attempts = {}
    for stage, f in db.attempt_figures().items():
        if stage in plan.stages:
            k = _scale(ceilings, stage, shape, samples)
            attempts[stage] = RoleTokens(input=round(f.prompt * k), output=round(f.output * k),
                                         cached_prefix=min(f.cached_share, 1.0), retry_context=0)
    usable = ceilings.calibration.usable_runs if ceilings.calibration else 0
    source = f"calibrated from {usable} runs in {db.path}"
    defaults = [r for r in plan.stages if r not in run_tokens]
    lines = [f"decomposition: {shape.describe()} — {whence}",
             f"cap: {decision.cap:,} ({decision.note})"]
    if defaults:
        lines.append(f"package defaults for {', '.join(defaults)} (no calibrated expectation "
                     "for this decomposition)")
    name = "calibrated ceiling" if decision.cap < plan.config.token_cap else "token_cap"
    return Calibrated(source, decision.cap, name, run_tokens, attempts), lines
