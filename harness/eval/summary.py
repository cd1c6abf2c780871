"""An eval's figures, from its rows alone (each config's results.jsonl): per config the resolved
rate, cost per instance and per resolved instance, tokens and wall time by stage, the paths the
runs took; per pair of configs the paired-bootstrap interval of the difference."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from harness.eval.bootstrap import CONFIDENCE, RESAMPLES, Interval, paired_bootstrap

Row = Mapping[str, Any]
COST_DIGITS = 6  # the table's costs are exact to the run directories' rounding


@dataclass(frozen=True)
class ConfigSummary:
    label: str
    instances: int
    resolved: int
    invalid: int  # gold mode: the instances whose own patch fails their grading
    cost_usd: float
    tokens: int
    duration_s: float
    stage_tokens: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)  # the runs' statuses
    outcomes: dict[str, int] = field(default_factory=dict)  # the attempts' outcomes
    grades: dict[str, int] = field(default_factory=dict)  # the grading outcomes

    @property
    def rate(self) -> float:
        return self.resolved / self.instances if self.instances else 0.0

    @property
    def cost_per_instance(self) -> float:
        return self.cost_usd / self.instances if self.instances else 0.0

    @property
    def cost_per_resolved(self) -> float | None:
        return self.cost_usd / self.resolved if self.resolved else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": round(self.rate, 4),
                "cost_per_instance": round(self.cost_per_instance, COST_DIGITS),
                "cost_per_resolved": None if self.cost_per_resolved is None
                else round(self.cost_per_resolved, COST_DIGITS)}


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    resolved: Interval  # b - a, in resolved rate (0..1)
    cost: Interval  # b - a, in dollars per instance

    def as_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "resolved": asdict(self.resolved),
                "cost_usd": asdict(self.cost), "resamples": RESAMPLES,
                "confidence": CONFIDENCE}


def summarize(label: str, rows: Sequence[Row]) -> ConfigSummary:
    stage_tokens: Counter[str] = Counter()
    stage_seconds: dict[str, float] = {}
    outcomes: Counter[str] = Counter()
    for row in rows:
        for stage, spent in (row.get("stages") or {}).items():
            stage_tokens[stage] += int(spent.get("tokens", 0))
            stage_seconds[stage] = (stage_seconds.get(stage, 0.0)
                                    + float(spent.get("duration_s", 0.0)))
        outcomes.update(str(o) for o in row.get("outcomes") or [])
    grades = Counter(str((row.get("grade") or {}).get("outcome", "?")) for row in rows)
    return ConfigSummary(
        label, len(rows), sum(bool(r.get("resolved")) for r in rows),
        sum(r.get("status") == "invalid" for r in rows),
        round(sum(float(r.get("cost_usd", 0.0)) for r in rows), COST_DIGITS),
        sum(int(r.get("tokens", 0)) for r in rows),
        round(sum(float(r.get("duration_s", 0.0)) for r in rows), 3),
        dict(stage_tokens), {k: round(v, 3) for k, v in stage_seconds.items()},
        dict(Counter(str(r.get("status")) for r in rows)), dict(outcomes), dict(grades))


def compare(a: str, a_rows: Sequence[Row], b: str, b_rows: Sequence[Row]) -> Comparison:
    """Over the instances both configs finished, in a fixed order."""
    by_a = {str(r["ticket"]): r for r in a_rows}
    by_b = {str(r["ticket"]): r for r in b_rows}
    common = sorted(by_a.keys() & by_b.keys())

    def values(rows: Mapping[str, Row], key: str) -> list[float]:
        return [float(rows[t].get(key) or 0.0) for t in common]

    return Comparison(a, b, paired_bootstrap(values(by_a, "resolved"), values(by_b, "resolved")),
                      paired_bootstrap(values(by_a, "cost_usd"), values(by_b, "cost_usd")))


def compare_all(rows: Mapping[str, Sequence[Row]]) -> list[Comparison]:
    return [compare(a, rows[a], b, rows[b]) for a, b in itertools.combinations(rows, 2)]


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:.{COST_DIGITS}f}"


def _counts(counts: Mapping[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _by_stage(values: Mapping[str, float], fmt: str) -> str:
    return " ".join(f"{stage} {format(v, fmt)}" for stage, v in values.items())


def config_table(summaries: Sequence[ConfigSummary]) -> Table:
    table = Table(title="eval: configs side by side")
    for column in ("config", "resolved", "cost", "cost/instance", "cost/resolved",
                   "wall/instance", "tokens by stage", "attempt time by stage", "statuses",
                   "attempt outcomes"):
        table.add_column(column, justify="right" if column.startswith("cost") else "left",
                         overflow="fold",  # every figure stays whole
                         no_wrap=not column.endswith(("stage", "statuses", "outcomes")))
    for s in summaries:
        invalid = f" ({s.invalid} invalid)" if s.invalid else ""
        table.add_row(s.label, f"{s.resolved}/{s.instances} ({s.rate:.1%}){invalid}",
                      _money(s.cost_usd), _money(s.cost_per_instance),
                      _money(s.cost_per_resolved),
                      f"{s.duration_s / s.instances:.1f}s" if s.instances else "-",
                      _by_stage(s.stage_tokens, ",") or "-",
                      _by_stage(s.stage_seconds, ".1f") or "-", _counts(s.statuses),
                      _counts(s.outcomes) or "-")
    return table


def comparison_table(comparisons: Sequence[Comparison]) -> Table:
    table = Table(title=f"differences (b - a), paired bootstrap over instances: "
                        f"{RESAMPLES:,} resamples, {CONFIDENCE:.0%} interval")
    for column in ("a", "b", "instances", "resolved rate", "cost/instance"):
        table.add_column(column, overflow="fold")
    for c in comparisons:
        r, m = c.resolved, c.cost
        table.add_row(c.a, c.b, str(r.n),
                      f"{r.mean:+.1%} [{r.low:+.1%}, {r.high:+.1%}]" + _sure(r),
                      f"{_signed(m.mean)} [{_signed(m.low)}, {_signed(m.high)}]" + _sure(m))
    return table


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + _money(abs(value))


def _sure(interval: Interval) -> str:
    return " *" if interval.excludes_zero() else ""
