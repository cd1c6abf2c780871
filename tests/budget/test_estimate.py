"""The pre-run cost model, recomputed by hand from the catalog prices."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.budget.estimate import HAPPY, estimate
from harness.budget.expectations import default_expectations
from harness.config.catalog import packaged_catalog
from harness.stages import RunPlan
from tests.conftest import SEED

Plan = Callable[[str], RunPlan]

TWO_STAGES = """\
planner:
  vendor: anthropic
  model: opus
  timeout: 300s
coder:
  vendor: anthropic
  model: sonnet
  timeout: 120s
  retry_budget: 1
  on_retry:
    compute: increased
"""


def by_hand(model_id: str, role: str, tier: str, *, retry: bool) -> float:
    """One attempt's cost, written out from the catalog and the expectations file: its input
    split into uncached, written to and read from the prompt cache by the measured shares."""
    p = packaged_catalog().models[model_id].price
    e = default_expectations().roles[role]
    thinking = default_expectations().thinking_for_tier[tier]  # type: ignore[index]
    total_in = e.input + (e.retry_context if retry else 0)
    cached = round(total_in * e.cached_prefix)
    written = round(total_in * (e.cache_write or 0))
    return ((total_in - cached) * p.input + written * p.cache_write
            + (cached - written) * p.cache_read + (e.output + thinking) * p.output) / 1e6


def tokens_by_hand(model_id: str, role: str, tier: str, *, retry: bool) -> int:
    """One attempt's charged tokens: every token whole except cache reads, at their price's
    share of an input token's (what ``token_cap`` counts)."""
    p = packaged_catalog().models[model_id].price
    e = default_expectations().roles[role]
    thinking = default_expectations().thinking_for_tier[tier]  # type: ignore[index]
    total_in = e.input + (e.retry_context if retry else 0)
    read = round(total_in * e.cached_prefix) - round(total_in * (e.cache_write or 0))
    return total_in - read + round(read * p.cache_read / p.input) + e.output + thinking


def test_expected_and_worst_case_match_hand_arithmetic(plan_of: Plan) -> None:
    report = estimate(plan_of(TWO_STAGES))
    planner = by_hand("claude-opus-5-5", "planner", "medium", retry=False)
    coder1 = by_hand("claude-sonnet-5-5", "coder", "medium", retry=False)
    coder2 = by_hand("claude-sonnet-5-5", "coder", "high", retry=True)
    assert [s.cost_usd for s in report.expected] == pytest.approx([planner, coder1])
    assert [s.cost_usd for s in report.worst] == pytest.approx([planner, coder1, coder2])
    # The figures themselves, so a silent change to the catalog is seen here too.
    assert report.total(report.expected)[1] == pytest.approx(0.2552 + 0.18144)
    tokens = (tokens_by_hand("claude-opus-5-5", "planner", "medium", retry=False)
              + tokens_by_hand("claude-sonnet-5-5", "coder", "medium", retry=False)
              + tokens_by_hand("claude-sonnet-5-5", "coder", "high", retry=True))
    assert tokens == 81_588  # 282,000 before cache reads were charged at their price share
    assert report.total(report.worst) == (tokens, pytest.approx(0.2552 + 0.18144 + 0.264656))
    assert report.cut is None


def test_seed_worst_case_path(plan_of: Plan) -> None:
    report = estimate(plan_of(SEED))
    assert [(s.stage, s.attempt.number, s.path) for s in report.worst] == [
        ("planner", 1, HAPPY),
        ("coder", 1, HAPPY), ("coder", 2, "coder retries"), ("coder", 3, "coder retries"),
        ("coder", 4, "coder retries"),
        ("debugger", 1, "debugger routes"), ("planner", 2, "debugger routes"),
        ("coder", 1, "debugger routes"), ("coder", 2, "debugger routes"),
        ("coder", 3, "debugger routes"), ("coder", 4, "debugger routes"),
        ("reviewer", 1, HAPPY), ("coder", 2, "reviewer rejections"),
        ("reviewer", 2, "reviewer rejections")]
    reviewer2 = by_hand("gemini-3.5-flash", "reviewer", "medium", retry=True)
    assert report.worst[-1].cost_usd == pytest.approx(reviewer2)


def figures(plan: RunPlan) -> dict[str, tuple[float, float]]:
    report = estimate(plan)
    return {role: (sum(s.cost_usd for s in report.by_stage(report.expected, role)),
                   sum(s.cost_usd for s in report.by_stage(report.worst, role)))
            for role in plan.stages}


MIXED = SEED.replace("  model: sonnet\n  timeout: 300s", "  model: haiku\n  timeout: 300s")


def test_raising_one_budget_changes_only_that_stage(plan_of: Plan) -> None:
    before = figures(plan_of(MIXED))
    after = figures(plan_of(MIXED.replace("retry_budget: 3", "retry_budget: 5")))
    assert {r for r in before if before[r] != after[r]} == {"coder"}
    assert after["coder"][1] > before["coder"][1]


def test_raising_one_price_changes_only_that_stage(plan_of: Plan) -> None:
    before = figures(plan_of(MIXED))
    after = figures(plan_of(MIXED + "pricing:\n  haiku: {input: 9, output: 40}\n"))
    assert {r for r in before if before[r] != after[r]} == {"debugger"}


def test_token_cap_cuts_the_worst_case(plan_of: Plan) -> None:
    report = estimate(plan_of(SEED + "token_cap: 75000\n"))
    assert report.cut is not None
    assert report.cut.cap == "token_cap"
    assert report.cut.tokens == 75_000
    # Charged tokens (cache reads at 0.1): planner (70k read 21.6k) and coder attempt 1 (96k,
    # 25.3k) fit; the cap falls inside coder attempt 2 (116k, 34.7k).
    first, second, third = report.worst[:3]
    assert (first.input_tokens + first.output_tokens, second.input_tokens + second.output_tokens,
            third.input_tokens + third.output_tokens) == (70_000, 96_000, 116_000)
    assert (first.tokens, second.tokens, third.tokens) == (21_550, 25_320, 34_718)
    share = (75_000 - 46_870) / 34_718
    assert report.cut.cost_usd == pytest.approx(first.cost_usd + second.cost_usd
                                                + share * third.cost_usd)
    assert report.cut.stopped_in == "coder: first round, attempt 2: tests failed"


def test_cost_cap_cuts_before_the_token_cap(plan_of: Plan) -> None:
    report = estimate(plan_of(SEED + "cost_cap_usd: 0.5\n"))
    assert report.cut is not None
    assert (report.cut.cap, report.cut.cost_usd) == ("cost_cap_usd", 0.5)
    assert report.cut.stopped_in.startswith("coder: first round, attempt 2")
