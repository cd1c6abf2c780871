"""Human-readable tables for ``harness check`` and ``harness cost`` (rich), and their JSON twins."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from harness.budget.estimate import HAPPY, PATHS, CostReport, Step
from harness.config.durations import format_duration
from harness.stages import Attempt, RunPlan, StagePlan


def console(stderr: bool = False) -> Console:
    # Tables wrap badly at the 80 columns rich assumes when output is piped.
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=None if probe.is_terminal else 200)


def _changes(values: list[str]) -> str:
    """Only where a value changes from one attempt to the next: ``anthropic → google``."""
    kept = [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]
    return " → ".join(kept)


def _model(a: Attempt) -> str:
    return a.model_id if a.model == a.model_id else f"{a.model} = {a.model_id}"


def _controls(attempts: tuple[Attempt, ...]) -> str:
    """``output_config.effort: medium → high → max`` when every attempt sets the same control."""
    names = {a.control.name if a.control else None for a in attempts}
    if len(names) == 1 and None not in names:
        values = " → ".join(str(a.control.value) for a in attempts if a.control)
        return f"{names.pop()}: {values}"
    return " → ".join(str(a.control) if a.control else "none (no equivalent)"
                      for a in attempts)


def check_table(plan: RunPlan) -> Table:
    t = Table(title=f"{plan.file}: {len(plan.stages)} stages", title_justify="left")
    for col in ("stage", "vendor", "model", "timeout", "retries", "compute by attempt",
                "native control by attempt", "on exhaust", "debugger routes"):
        t.add_column(col, no_wrap=col != "debugger routes")
    for role, sp in plan.stages.items():
        atts = sp.attempts
        t.add_row(role, _changes([a.vendor.name for a in atts]),
                  _changes([_model(a) for a in atts]), format_duration(sp.timeout),
                  str(sp.config.retry_budget), " → ".join(a.tier for a in atts),
                  _controls(atts), sp.config.on_exhaust, _routes(sp))
    return t


def fallback_table(plan: RunPlan) -> Table | None:
    """Each stage's fallback: who serves its turns when its vendor is down, and when."""
    t = Table(title="Fallback when a stage's vendor is down", title_justify="left")
    for col in ("stage", "vendor", "model", "native control by attempt", "after",
                "primary call limit", "time after switch", "key from"):
        t.add_column(col, no_wrap=col != "native control by attempt")
    for role, sp in plan.stages.items():
        backups = [a.fallback for a in sp.attempts if a.fallback is not None]
        if not backups:
            continue
        first, fb = backups[0], backups[0].attempt
        t.add_row(role, fb.vendor.name, _model(fb),
                  _controls(tuple(b.attempt for b in backups)),
                  f"{first.after} failure{'s' * (first.after != 1)}",
                  format_duration(first.call_timeout),
                  "what is left" if first.timeout is None else format_duration(first.timeout),
                  fb.api_key_env)
    return t if t.row_count else None


def cache_table(plan: RunPlan) -> Table:
    """What each stage's attempts cache and when (docs/caching.md)."""
    t = Table(title="Prompt caching", title_justify="left")
    for col in ("stage", "model", "what is cached"):
        t.add_column(col, no_wrap=col != "what is cached")
    for role, sp in plan.stages.items():
        seen: list[tuple[str, str]] = []
        for a in sp.attempts:
            row = (_model(a), _cache_plan(a, sp.timeout))
            if row not in seen:
                seen.append(row)
        for model, what in seen:
            t.add_row(role, model, what)
    return t


def _cache_plan(a: Attempt, timeout_s: float) -> str:
    return a.vendor.cache_plan(a.entry, a.options, timeout_s)


def _routes(sp: StagePlan) -> str:
    if not sp.can_route_to and not sp.attaches_to:
        return "-"
    return f"watches {', '.join(sp.attaches_to)}; fixes go to {', '.join(sp.can_route_to)}"


def check_json(plan: RunPlan) -> dict[str, Any]:
    return {
        "ok": True,
        "file": plan.file,
        "token_cap": plan.config.token_cap,
        "cost_cap_usd": plan.config.cost_cap_usd,
        "diagnostics": [d.as_dict() for d in plan.warnings],
        "stages": [
            {"stage": role, "timeout_s": sp.timeout, "retry_budget": sp.config.retry_budget,
             "on_exhaust": sp.config.on_exhaust, "attaches_to": list(sp.attaches_to),
             "can_route_to": list(sp.can_route_to),
             "attempts": [{**_attempt_json(a), "prompt_cache": _cache_plan(a, sp.timeout),
                           "fallback": _fallback_json(a)} for a in sp.attempts]}
            for role, sp in plan.stages.items()
        ],
    }


def _fallback_json(a: Attempt) -> dict[str, Any] | None:
    fb = a.fallback
    if fb is None:
        return None
    return {**_attempt_json(fb.attempt), "after": fb.after, "call_timeout_s": fb.call_timeout,
            "timeout_s": fb.timeout}


def _attempt_json(a: Attempt) -> dict[str, Any]:
    return {"attempt": a.number, "vendor": a.vendor.name, "model": a.model,
            "model_id": a.model_id, "tier": a.tier,
            "control": ({"name": a.control.name, "value": a.control.value,
                         "pinned": a.control.pinned} if a.control else None),
            "max_output_tokens": a.max_output_tokens, "api_key_env": a.api_key_env}


def usd(x: float) -> str:
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


def cost_tables(plan: RunPlan, report: CostReport) -> list[Table]:
    stages = Table(title="Per stage", title_justify="left")
    for col in ("stage", "model by attempt", "first attempt", "expected run",
                "worst case attempts", "worst case"):
        stages.add_column(col, justify="left" if col in ("stage", "model by attempt") else "right")
    for role, sp in plan.stages.items():
        first = _first(report, role)
        worst = report.by_stage(report.worst, role)
        stages.add_row(role, _changes([a.model_id for a in sp.attempts]),
                       "-" if first is None else usd(first),
                       usd(sum(s.cost_usd for s in report.by_stage(report.expected, role))),
                       str(len(worst)), usd(sum(s.cost_usd for s in worst)))
    paths = Table(title="Where the money goes when things go wrong", title_justify="left")
    for col in ("failure path", "what happens", "steps", "tokens", "marginal cost"):
        paths.add_column(col, justify="right" if col in ("steps", "tokens", "marginal cost")
                         else "left")
    for name, what in PATHS.items():
        steps = report.by_path(name)
        paths.add_row(name, what, str(len(steps)), f"{sum(s.tokens for s in steps):,}",
                      usd(sum(s.cost_usd for s in steps)))
    return [stages, paths]


def fallback_cost_table(plan: RunPlan, report: CostReport,
                        fallbacks: dict[str, CostReport]) -> Table | None:
    """The run priced as if one stage's fallback served every turn of it."""
    if not fallbacks:
        return None
    t = Table(title="If the fallback serves every turn of a stage", title_justify="left")
    for col in ("stage", "fallback model by attempt", "stage expected", "stage worst case",
                "expected run", "worst case"):
        t.add_column(col, justify="left" if col in ("stage", "fallback model by attempt")
                     else "right")
    _, e_usd = report.total(report.expected)
    _, w_usd = report.total(report.worst)
    for role, other in fallbacks.items():
        _, fe = other.total(other.expected)
        _, fw = other.total(other.worst)
        models = [a.fallback.attempt.model_id for a in plan.stages[role].attempts if a.fallback]
        t.add_row(role, _changes(models),
                  usd(sum(s.cost_usd for s in other.by_stage(other.expected, role))),
                  usd(sum(s.cost_usd for s in other.by_stage(other.worst, role))),
                  f"{usd(fe)} ({_delta(fe - e_usd)})", f"{usd(fw)} ({_delta(fw - w_usd)})")
    return t


def _delta(x: float) -> str:
    return ("+" if x >= 0 else "-") + usd(abs(x))


def fallback_cost_json(fallbacks: dict[str, CostReport]) -> dict[str, Any]:
    out = {}
    for role, other in fallbacks.items():
        e_tok, e_usd = other.total(other.expected)
        w_tok, w_usd = other.total(other.worst)
        out[role] = {"expected": {"tokens": e_tok, "cost_usd": e_usd},
                     "worst_case": {"tokens": w_tok, "cost_usd": w_usd},
                     "stage_expected_usd": sum(s.cost_usd for s in
                                               other.by_stage(other.expected, role)),
                     "stage_worst_case_usd": sum(s.cost_usd for s in
                                                 other.by_stage(other.worst, role)),
                     "models": [s.attempt.model_id for s in other.by_stage(other.worst, role)]}
    return out


def cost_summary(plan: RunPlan, report: CostReport) -> list[str]:
    e_tok, e_usd = report.total(report.expected)
    w_tok, w_usd = report.total(report.worst)
    lines = [f"expected run: {usd(e_usd)} ({e_tok:,} tokens)",
             f"worst case:   {usd(w_usd)} ({w_tok:,} tokens, {len(report.worst)} model calls)"]
    cut = report.cut
    if cut:
        lines.append(f"within caps:  {usd(cut.cost_usd)} ({cut.tokens:,} tokens) — {cut.cap} "
                     f"stops the run during {cut.stopped_in}")
    else:
        lines.append(f"within caps:  the worst case fits under token_cap "
                     f"{plan.config.token_cap:,}" + (f" and cost_cap_usd "
                     f"{plan.config.cost_cap_usd}" if plan.config.cost_cap_usd else ""))
    lines.append(f"token figures: {report.expectations_source}")
    return lines


def cost_json(plan: RunPlan, report: CostReport) -> dict[str, Any]:
    e_tok, e_usd = report.total(report.expected)
    w_tok, w_usd = report.total(report.worst)
    cut = report.cut
    return {
        "file": plan.file,
        "expectations": report.expectations_source,
        "expected": {"tokens": e_tok, "cost_usd": e_usd,
                     "steps": [_step_json(s) for s in report.expected]},
        "worst_case": {"tokens": w_tok, "cost_usd": w_usd,
                       "steps": [_step_json(s) for s in report.worst]},
        "stages": {role: {"first_attempt_usd": _first(report, role),
                          "expected_usd": sum(s.cost_usd for s in
                                              report.by_stage(report.expected, role)),
                          "worst_case_usd": sum(s.cost_usd for s in
                                                report.by_stage(report.worst, role)),
                          "worst_case_attempts": len(report.by_stage(report.worst, role))}
                   for role in plan.stages},
        "failure_paths": {name: {"what": what, "steps": len(report.by_path(name)),
                                 "tokens": sum(s.tokens for s in report.by_path(name)),
                                 "cost_usd": sum(s.cost_usd for s in report.by_path(name))}
                          for name, what in PATHS.items()},
        "within_caps": ({"cap": cut.cap, "tokens": cut.tokens, "cost_usd": cut.cost_usd,
                         "stopped_in": cut.stopped_in} if cut else
                        {"cap": None, "tokens": w_tok, "cost_usd": w_usd, "stopped_in": None}),
    }


def _first(report: CostReport, role: str) -> float | None:
    return next((s.cost_usd for s in report.worst if s.stage == role), None)


def _step_json(s: Step) -> dict[str, Any]:
    return {"stage": s.stage, "attempt": s.attempt.number, "why": s.why,
            "path": "expected" if s.path == HAPPY else s.path, "model_id": s.attempt.model_id,
            "tier": s.attempt.tier, "input_tokens": s.input_tokens,
            "cached_tokens": s.cached_tokens, "output_tokens": s.output_tokens,
            "cost_usd": s.cost_usd}
