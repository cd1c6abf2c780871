"""What a run is held to: its effective token cap once the decomposition is known, and each
stage's expected figure for the rambling check. The pipeline asks; this module only answers
(it has no numpy and no I/O), so the answers are the same in a run and in ``harness calibrate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.calibration.model import RUN, Calibration, Shape
from harness.config.schema import CalibrationConfig
from harness.errors import RunStopped

RAMBLING_STOPPED = "rambling_stopped"


@dataclass(frozen=True)
class CapDecision:
    """The run's token cap for one decomposition, and why."""

    cap: int
    source: Literal["calibrated", "fixed"]
    note: str
    ceiling: int | None = None  # the fitted ceiling before headroom

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "effective_cap": self.cap, "ceiling": self.ceiling,
                "note": self.note}


@dataclass(frozen=True)
class Rambling:
    """A stage whose tokens passed ``factor`` × its expected figure."""

    stage: str
    tokens: int
    expected: int
    factor: float
    action: Literal["flag", "stop"]

    def message(self) -> str:
        verb = "stopped the run" if self.action == "stop" else "flagged"
        return (f"{self.stage} is rambling: {self.tokens:,} tokens > {self.factor:g} × its "
                f"expected {self.expected:,} for this decomposition — {verb} (on_rambling: "
                f"{self.action})")

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "tokens": self.tokens, "expected": self.expected,
                "factor": self.factor, "action": self.action}


class RamblingStopped(RunStopped):
    """A stage with ``on_rambling: stop`` passed its rambling threshold."""

    def __init__(self, found: Rambling) -> None:
        super().__init__(RAMBLING_STOPPED, found.message())
        self.stage = found.stage


@dataclass(frozen=True)
class Ceilings:
    """A run's calibration: ``calibration`` is None when there is no usable history (``reason``
    says why), and inactive below ``min_runs``; either way the fixed ``token_cap`` applies."""

    token_cap: int
    settings: CalibrationConfig
    on_rambling: Mapping[str, Literal["flag", "stop"]]
    calibration: Calibration | None
    reason: str  # where the history is, or why there is none

    @property
    def active(self) -> bool:
        return self.calibration is not None and self.calibration.active

    def start(self) -> dict[str, Any]:
        """run.json's ``calibration`` before the decomposition is known."""
        usable = self.calibration.usable_runs if self.calibration else 0
        note = self.reason if self.active else (
            f"{self.reason}; {usable} usable run{'s' * (usable != 1)}, below calibration."
            f"min_runs {self.settings.min_runs}: the fixed token_cap {self.token_cap:,} applies")
        return {"source": "calibrated" if self.active else "fixed", "usable_runs": usable,
                "min_runs": self.settings.min_runs, "token_cap": self.token_cap,
                "headroom": self.settings.headroom, "quantile": self.settings.quantile,
                "rambling_factor": self.settings.rambling_factor, "note": note}

    def cap(self, shape: Shape) -> CapDecision:
        fit = self.calibration.stage(RUN) if self.calibration and self.active else None
        if fit is None:
            return CapDecision(self.token_cap, "fixed", self.start()["note"])
        outside = fit.outside(shape)
        if outside:
            return CapDecision(self.token_cap, "fixed", f"{outside}: the fixed token_cap "
                               f"{self.token_cap:,} applies")
        ceiling = round(fit.ceiling.tokens(shape))
        cap = min(self.token_cap, round(self.settings.headroom * ceiling))
        return CapDecision(cap, "calibrated", f"{self.settings.headroom:g} × the q"
                           f"{self.settings.quantile:g} ceiling {ceiling:,} for {shape.describe()}"
                           f" (token_cap {self.token_cap:,}); fitted on "
                           f"{fit.runs} runs", ceiling)

    def expected(self, stage: str, shape: Shape) -> int | None:
        """``stage``'s expected (median) tokens in a run of ``shape``, when calibrated."""
        fit = self.calibration.stage(stage) if self.calibration and self.active else None
        if fit is None or fit.outside(shape):
            return None
        return round(fit.expected.tokens(shape))

    def rambling(self, stage: str, tokens: int, shape: Shape) -> Rambling | None:
        expected = self.expected(stage, shape)
        factor = self.settings.rambling_factor
        if expected is None or tokens <= factor * expected:
            return None
        return Rambling(stage, tokens, expected, factor, self.on_rambling.get(stage, "flag"))


def fixed(token_cap: int, settings: CalibrationConfig, reason: str) -> Ceilings:
    """Ceilings with no history behind them: the fixed cap, and ``reason`` in run.json."""
    return Ceilings(token_cap, settings, {}, None, reason)
