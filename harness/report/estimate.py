"""The pre-run estimate of ``harness cost`` for the config a run ran, to set its spend against.

The run's recorded config (run.json ``config``) comes first: it is exactly what the run ran,
while ``config_file`` may have been edited or deleted since. The recorded config is the parsed
``StagesFile`` dumped as JSON, so it is turned back into a stages file (nulls dropped, timeouts
given their unit) and checked by ``load_plan`` like any other. Only when it is missing or refused
is ``config_file`` used, and the report says so; with neither there is no estimate, also said.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from harness.budget.estimate import PATHS, CostReport, estimate
from harness.errors import ConfigError
from harness.report.model import Estimate, StageEstimate
from harness.stages import RunPlan, load_plan

RECORDED = "the run's recorded config (run.json `config`)"


def run_estimate(state: dict[str, Any]) -> tuple[Estimate | None, str]:
    """The estimate and a note: why there is none, or what the reader should know about it."""
    problems: list[str] = []
    recorded = state.get("config")
    if isinstance(recorded, dict):
        try:
            plan = _recorded_plan(recorded)
        except ConfigError as exc:
            problems.append(f"the recorded config is refused today ({_first_line(exc)})")
        else:
            return summarise(plan, RECORDED), _drift(state.get("config_file"), plan)
    else:
        problems.append("run.json records no config")
    plan_or_problem = _file_plan(state.get("config_file"))
    if isinstance(plan_or_problem, str):
        problems.append(plan_or_problem)
        return None, "no estimate: " + "; ".join(problems)
    source = f"{plan_or_problem.file} (as it is now)"
    return summarise(plan_or_problem, source), "; ".join(problems)


def summarise(plan: RunPlan, source: str) -> Estimate:
    report = estimate(plan)
    e_tok, e_usd = report.total(report.expected)
    w_tok, w_usd = report.total(report.worst)
    return Estimate(
        source=source, expectations=report.expectations_source,
        expected_tokens=e_tok, expected_usd=round(e_usd, 6),
        worst_tokens=w_tok, worst_usd=round(w_usd, 6),
        within_caps=_within_caps(plan, report),
        stages={role: _stage(report, role) for role in plan.stages},
        paths={name: round(sum(s.cost_usd for s in report.by_path(name)), 6) for name in PATHS})


def _within_caps(plan: RunPlan, report: CostReport) -> str:
    """Where a cap stops the worst case, worded as `harness cost` words it."""
    cut = report.cut
    if cut is not None:
        return (f"${cut.cost_usd:,.4f} ({cut.tokens:,} tokens): {cut.cap} stops the run "
                f"during {cut.stopped_in}")
    caps = f"token_cap {plan.config.token_cap:,}"
    if plan.config.cost_cap_usd is not None:
        caps += f" and cost_cap_usd {plan.config.cost_cap_usd}"
    return f"the worst case fits under {caps}"


def _stage(report: CostReport, role: str) -> StageEstimate:
    return StageEstimate(
        expected_usd=round(sum(s.cost_usd for s in report.by_stage(report.expected, role)), 6),
        worst_usd=round(sum(s.cost_usd for s in report.by_stage(report.worst, role)), 6))


def _recorded_plan(recorded: dict[str, Any]) -> RunPlan:
    with tempfile.TemporaryDirectory(prefix="harness-report-") as tmp:
        path = Path(tmp) / "stages.yaml"
        # JSON is YAML; load_plan reads it with line numbers like any stages file.
        path.write_text(json.dumps(_as_stages_file(recorded), indent=1), encoding="utf-8")
        return load_plan(path, shown_as="run.json config")


def _as_stages_file(value: Any, key: str = "") -> Any:
    """Undo the JSON dump: a null is an unset key (routing keys are refused outside the
    Debugger even when null), and a timeout was dumped as bare seconds, which a stages file
    refuses for want of a unit."""
    if isinstance(value, dict):
        return {k: _as_stages_file(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_stages_file(v) for v in value]
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and (key == "timeout" or key.endswith("_timeout")):
        return f"{value:g}s"
    return value


def _file_plan(config_file: object) -> RunPlan | str:
    if not isinstance(config_file, str) or not config_file:
        return "run.json records no config_file"
    path = Path(config_file)
    if not path.is_file():
        return f"config_file {path} no longer exists"
    try:
        return load_plan(path)
    except ConfigError as exc:
        return f"{path} is refused ({_first_line(exc)})"


def _drift(config_file: object, plan: RunPlan) -> str:
    """Say so when the stages file has changed since the run: `harness cost` on it would now
    give other figures than the ones shown."""
    current = _file_plan(config_file)
    if isinstance(current, str):
        return ""
    if current.config.model_dump(mode="json") != plan.config.model_dump(mode="json"):
        return (f"{current.file} has changed since this run; the estimate is for the config "
                "the run ran")
    return ""


def _first_line(exc: ConfigError) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
