"""The pre-run cost model: what a run is expected to cost, and where the money goes when
everything fails, derived only from the stage ladders, the catalog prices and the per-stage token
expectations.

The worst case is one concrete path through the pipeline, in order:
  1. the Planner's first attempt, then re-plans on manifest issues (those the Debugger does not
     claim, see 3);
  2. a Coder round: every attempt of the Coder's ladder fails its tests;
  3. each Debugger invocation (its own ladder) routes the fix back: to the Planner while re-plans
     remain and it may route there (a re-plan and then a fresh Coder round), else to the Coder
     (a fresh Coder round); the last attempt of the last round finally passes;
  4. the Reviewer rejects every round it has; each rejection costs one Coder fix attempt at the
     Coder's retry rung before the next review.
Each step is priced on its own attempt's model and tier; the token cap (and cost cap, if set)
then cut the path where the run would be stopped.

With a calibrated history (``Calibrated``, built by ``harness cost --ticket``), each stage's step
on the expected run is the history's expected tokens of that stage in a whole run of the
ticket's decomposition, an attempt elsewhere is the stage's median measured attempt (reasoning
included, so no tier allowance is added), and the cut is at the calibrated effective cap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from harness.budget.expectations import Expectations, RoleTokens, default_expectations
from harness.stages import Attempt, RunPlan, StagePlan

HAPPY = "expected run"
PATHS = {
    "planner re-plans": "the Planner's manifest is refused and re-planned",
    "coder retries": "the Coder's tests fail and it retries at its on_retry rung",
    "debugger routes": "the Debugger fires and routes the fix back (re-plan, fresh Coder round)",
    "reviewer rejections": "the Reviewer rejects, the Coder fixes, the Reviewer looks again",
}


@dataclass(frozen=True)
class Step:
    stage: str
    attempt: Attempt
    why: str
    path: str  # HAPPY or a key of PATHS
    input_tokens: int
    cached_tokens: int  # part of input_tokens read from or written to the prompt cache
    output_tokens: int  # visible output plus reasoning
    cost_usd: float
    read_tokens: int = 0  # part of cached_tokens read from the cache

    @property
    def tokens(self) -> int:
        """What the meter charges (``Usage.charged``): a cache read at its price share."""
        price = self.attempt.entry.price
        share = min(price.cache_read / price.input, 1.0) if price.input > 0 else 1.0
        return (self.input_tokens - self.read_tokens + round(self.read_tokens * share)
                + self.output_tokens)


@dataclass(frozen=True)
class CapCut:
    """Where a cap stops the worst-case path."""

    cap: str  # "token_cap" or "cost_cap_usd"
    tokens: int
    cost_usd: float
    stopped_in: str  # the step the run is in when it is stopped


@dataclass
class CostReport:
    expected: list[Step]
    worst: list[Step]
    cut: CapCut | None
    expectations_source: str

    def total(self, steps: list[Step]) -> tuple[int, float]:
        return sum(s.tokens for s in steps), sum(s.cost_usd for s in steps)

    def by_stage(self, steps: list[Step], stage: str) -> list[Step]:
        return [s for s in steps if s.stage == stage]

    def by_path(self, path: str) -> list[Step]:
        return [s for s in self.worst if s.path == path]


@dataclass(frozen=True)
class Calibrated:
    """Figures from the project's run history for one decomposition."""

    source: str  # what the figures are, for the report
    token_cap: int  # the run's effective cap: min(token_cap, headroom × ceiling)
    cap_name: str = "calibrated ceiling"
    run_tokens: Mapping[str, int] = field(default_factory=dict)  # a stage's tokens in a run
    attempts: Mapping[str, RoleTokens] = field(default_factory=dict)  # its median attempt


class _Pricer:
    """Prices steps: each attempt's input split by how the prompt cache bills it (the stage's
    measured shares, harness/budget/expectations.yaml)."""

    def __init__(self, exp: Expectations, calibrated: Calibrated | None = None) -> None:
        self.exp = exp
        self.calibrated = calibrated or Calibrated("", 0)

    def step(self, plan: StagePlan, attempt: Attempt, why: str, path: str, *,
             retry: bool, whole_run: bool = False) -> Step:
        total_in, read, written, out = self._tokens(plan.role, attempt, retry=retry,
                                                    whole_run=whole_run)
        price = attempt.entry.price
        cost = ((total_in - read - written) * price.input + written * price.cache_write
                + read * price.cache_read + out * price.output) / 1e6
        return Step(plan.role, attempt, why, path, total_in, read + written, out, cost, read)

    def _tokens(self, stage: str, attempt: Attempt, *, retry: bool,
                whole_run: bool) -> tuple[int, int, int, int]:
        """(input, the part read from the cache, the part written to it, output)."""
        measured = self.calibrated.attempts.get(stage)
        role = measured or self.exp.roles[stage]
        whole = self.calibrated.run_tokens.get(stage) if whole_run else None
        if whole is not None:  # the stage's whole expected run, reasoning included
            out = round(whole * role.output / max(role.input + role.output, 1))
            total_in = whole - out
        else:
            thinking = 0 if measured else self._thinking(attempt)  # measured includes it
            out = min(role.output + thinking, attempt.max_output_tokens)
            total_in = role.input + (role.retry_context if retry else 0)
        if not attempt.vendor.prompt_caching:
            return total_in, 0, 0, out
        cached = round(total_in * role.cached_prefix)
        written = min(round(total_in * self._write_share(stage, role)), cached)
        return total_in, cached - written, written, out

    def _write_share(self, stage: str, role: RoleTokens) -> float:
        if role.cache_write is not None:
            return role.cache_write
        default = self.exp.roles.get(stage)  # calibrated figures say what is cached, not how
        return (default.cache_write or 0.0) if default else 0.0

    def _thinking(self, attempt: Attempt) -> int:
        if attempt.control is None:
            return 0
        spend = self.exp.thinking_for_tier[attempt.tier]
        if isinstance(attempt.control.value, int) and attempt.control.value >= 0:
            spend = min(spend, attempt.control.value)
        return spend


def estimate(plan: RunPlan, exp: Expectations | None = None,
             calibrated: Calibrated | None = None) -> CostReport:
    exp = exp or default_expectations()
    expected = _expected(plan, _Pricer(exp, calibrated))
    worst = _worst(plan, _Pricer(exp, calibrated))
    cap = (calibrated.token_cap, calibrated.cap_name) if calibrated else (
        plan.config.token_cap, "token_cap")
    return CostReport(expected, worst, _cut(plan, worst, *cap),
                      calibrated.source if calibrated else exp.source)


def fallback_paths(plan: RunPlan, exp: Expectations | None = None,
                   calibrated: Calibrated | None = None) -> dict[str, CostReport]:
    """For each stage with a fallback, the run priced as if the fallback served every turn of
    that stage (its attempts on the fallback's model and tier), the other stages as planned."""
    out = {}
    for role, sp in plan.stages.items():
        backups = tuple(a.fallback.attempt for a in sp.attempts if a.fallback is not None)
        if len(backups) != len(sp.attempts):
            continue
        swapped = replace(plan, stages={**plan.stages, role: replace(sp, attempts=backups)})
        out[role] = estimate(swapped, exp, calibrated)
    return out


def _expected(plan: RunPlan, pricer: _Pricer) -> list[Step]:
    roles = [r for r in ("planner", "coder", "reviewer") if r in plan.stages]
    return [pricer.step(plan.stages[r], plan.stages[r].attempts[0], "first attempt succeeds",
                        HAPPY, retry=False, whole_run=True) for r in roles]


def _worst(plan: RunPlan, pricer: _Pricer) -> list[Step]:
    planner, coder = plan.stages["planner"], plan.stages["coder"]
    debugger, reviewer = plan.stages.get("debugger"), plan.stages.get("reviewer")
    replans = list(planner.attempts[1:])
    to_planner = 0
    if debugger and "planner" in debugger.can_route_to:
        to_planner = min(len(replans), len(debugger.attempts))
    steps = [pricer.step(planner, planner.attempts[0], "first plan", HAPPY, retry=False)]
    for a in replans[: len(replans) - to_planner]:
        steps.append(pricer.step(planner, a, f"re-plan {a.number - 1}: manifest refused",
                                 "planner re-plans", retry=True))
    steps += _coder_round(coder, pricer, "first round", first_is_happy=True)
    if debugger and {"planner", "coder"} & set(debugger.can_route_to):
        routed = replans[len(replans) - to_planner:]
        for i, d in enumerate(debugger.attempts):
            steps.append(pricer.step(debugger, d, f"invocation {d.number}: diagnose and route",
                                     "debugger routes", retry=d.number > 1))
            if i < len(routed):
                steps.append(pricer.step(planner, routed[i], f"re-plan routed by debugger "
                                         f"invocation {d.number}", "debugger routes", retry=True))
            steps += _coder_round(coder, pricer, f"round after debugger invocation {d.number}",
                                  path="debugger routes")
    if reviewer:
        fix = coder.attempts[1] if len(coder.attempts) > 1 else coder.attempts[0]
        for r in reviewer.attempts:
            path = HAPPY if r.number == 1 else "reviewer rejections"
            if r.number > 1:
                steps.append(pricer.step(coder, fix, f"fix after review {r.number - 1} rejected",
                                         path, retry=True))
            steps.append(pricer.step(reviewer, r, f"review round {r.number}", path,
                                     retry=r.number > 1))
    return steps


def _coder_round(coder: StagePlan, pricer: _Pricer, label: str, *, path: str = "coder retries",
                 first_is_happy: bool = False) -> list[Step]:
    steps = []
    for a in coder.attempts:
        first = a.number == 1
        tag = HAPPY if first and first_is_happy else path
        why = f"{label}, attempt {a.number}" + ("" if first else ": tests failed")
        steps.append(pricer.step(coder, a, why, tag, retry=not first or not first_is_happy))
    return steps


def _cut(plan: RunPlan, worst: list[Step], token_cap: int, cap_name: str) -> CapCut | None:
    cost_cap = plan.config.cost_cap_usd
    tokens, cost = 0, 0.0
    for s in worst:
        share = 1.0
        if tokens + s.tokens > token_cap:
            share = (token_cap - tokens) / s.tokens
        if cost_cap is not None and cost + s.cost_usd * share > cost_cap:
            share = min(share, (cost_cap - cost) / s.cost_usd)
            return CapCut("cost_cap_usd", tokens + round(s.tokens * share), cost_cap,
                          f"{s.stage}: {s.why}")
        if share < 1.0:
            return CapCut(cap_name, token_cap, cost + s.cost_usd * share,
                          f"{s.stage}: {s.why}")
        tokens, cost = tokens + s.tokens, cost + s.cost_usd
    return None
