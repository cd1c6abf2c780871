"""The one place the pipeline asks "may the run go on?": the meter's caps (checked on every
response, by the meter itself), the calibrated ceiling that follows the accepted decomposition,
and each stage's rambling check after each of its attempts. Everything it decides goes into the
run record through ``notes`` (the pipeline's ``Recorder``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.budget.meter import Meter
from harness.calibration.ceilings import Ceilings, RamblingStopped
from harness.calibration.model import Shape


class Notes(Protocol):
    """Where the guard's decisions go on record (``harness.pipeline.events.Recorder`` is one)."""

    def event(self, kind: str, **data: Any) -> None: ...

    def update(self, **fields: Any) -> None: ...


@dataclass
class Guard:
    """A run's caps and ceilings. ``ceilings`` None: the fixed caps alone (no history)."""

    meter: Meter
    notes: Notes
    ceilings: Ceilings | None = None  # calibrated cap and rambling checks (harness.calibration)
    _shape: Shape | None = None  # the accepted decomposition's, once there is one
    _spent: dict[str, int] = field(default_factory=dict)  # tokens by stage, for rambling
    _rambling: list[dict[str, Any]] = field(default_factory=list)

    def decomposed(self, decomposition: Mapping[str, Any]) -> None:
        """A manifest was accepted (a re-plan's too): from now on the run is held to the
        ceiling calibrated for its decomposition."""
        if self.ceilings is None:
            return
        self._shape = Shape.of(decomposition)
        decision = self.ceilings.cap(self._shape)
        self.meter.limit(decision.cap if decision.source == "calibrated" else None,
                         decision.note)
        self.notes.update(calibration={**self.ceilings.start(), **decision.as_dict()})
        self.notes.event("ceiling", **decision.as_dict())

    def after_attempt(self, stage: str, tokens: int) -> None:
        """May the run go on after an attempt of ``stage`` that spent ``tokens``? Raises
        ``RunStopped`` when the calibrated cap has dropped below what is spent, and
        ``RamblingStopped`` when the stage passed its rambling threshold under
        ``on_rambling: stop`` (a stage is flagged once)."""
        self._spent[stage] = self._spent.get(stage, 0) + tokens
        if self.ceilings is None or self._shape is None:
            return
        self.meter.check()
        if any(r["stage"] == stage for r in self._rambling):
            return
        found = self.ceilings.rambling(stage, self._spent[stage], self._shape)
        if found is None:
            return
        self._rambling.append(found.as_dict())
        self.notes.update(rambling=list(self._rambling))
        self.notes.event("rambling", **found.as_dict(), message=found.message())
        if found.action == "stop":
            raise RamblingStopped(found)
