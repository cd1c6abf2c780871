"""The attempt ladder: what each attempt of a stage sends, derived from stages.yaml."""

from __future__ import annotations

from collections.abc import Callable

from harness.stages import RunPlan
from tests.conftest import MINIMAL, SEED

Plan = Callable[[str], RunPlan]


def ladder(plan: RunPlan, role: str) -> list[tuple[str, str, str, str]]:
    return [(a.vendor.name, a.model_id, a.tier, str(a.control))
            for a in plan.stages[role].attempts]


def test_seed_loads_as_written(plan_of: Plan) -> None:
    plan = plan_of(SEED)
    assert list(plan.stages) == ["planner", "coder", "debugger", "reviewer"]
    coder = plan.stages["coder"]
    assert coder.timeout == 120
    assert coder.config.retry_budget == 3
    assert coder.config.on_exhaust == "halt"
    assert plan.stages["planner"].config.on_exhaust == "surface_to_human"
    assert plan.stages["debugger"].can_route_to == ("planner", "coder", "reviewer")
    assert plan.stages["reviewer"].attempts[0].vendor.name == "google"
    # The seed gives the debugger on_retry but no retry budget: loaded, with one warning.
    assert [w.dotted for w in plan.warnings] == ["debugger.on_retry"]


def test_increased_steps_one_tier_per_retry_and_stops_at_max(plan_of: Plan) -> None:
    plan = plan_of(SEED)
    assert [t for _, _, t, _ in ladder(plan, "coder")] == ["medium", "high", "max", "max"]
    assert [c for *_, c in ladder(plan, "coder")] == [
        "output_config.effort=medium", "output_config.effort=high",
        "output_config.effort=max", "output_config.effort=max"]


def test_without_on_retry_every_attempt_runs_the_same(plan_of: Plan) -> None:
    plan = plan_of(SEED)
    first, *rest = ladder(plan, "reviewer")
    assert rest == [first]
    assert first == ("google", "gemini-3.5-flash", "medium",
                     "thinking_config.thinking_level=medium")


def test_fixed_retry_tier_and_model_switch(plan_of: Plan) -> None:
    plan = plan_of(MINIMAL + "  retry_budget: 2\n  compute: low\n  on_retry:\n"
                   "    compute: high\n    model: opus\n")
    assert ladder(plan, "coder") == [
        ("anthropic", "claude-sonnet-5-5", "low", "output_config.effort=low"),
        ("anthropic", "claude-opus-5-5", "high", "output_config.effort=high"),
        ("anthropic", "claude-opus-5-5", "high", "output_config.effort=high")]


def test_vendor_switch_drops_the_old_vendors_options(plan_of: Plan) -> None:
    plan = plan_of(MINIMAL + "  retry_budget: 1\n  vendor_options:\n    effort: low\n"
                   "  on_retry:\n    vendor: google\n    model: gemini-pro\n"
                   "    compute: increased\n")
    assert ladder(plan, "coder") == [
        ("anthropic", "claude-sonnet-5-5", "medium", "output_config.effort=low"),
        ("google", "gemini-3.1-pro-preview", "high", "thinking_config.thinking_level=high")]
    assert plan.stages["coder"].attempts[1].api_key_env == "GEMINI_API_KEY"


def test_thinking_budget_models_get_a_budget_below_max_tokens(plan_of: Plan) -> None:
    plan = plan_of(MINIMAL.replace("model: sonnet", "model: sonnet-4-5")
                   + "  compute: max\n  max_output_tokens: 20000\n")
    assert ladder(plan, "coder") == [
        ("anthropic", "claude-sonnet-4-5", "max", "thinking.budget_tokens=19999")]


def test_cli_vendors_map_tiers_to_their_own_flags(plan_of: Plan) -> None:
    plan = plan_of(MINIMAL.replace("vendor: anthropic\n  model: sonnet",
                                   "vendor: claude-cli\n  model: sonnet")
                   + "reviewer:\n  vendor: gemini-cli\n  model: gemini-2.5-pro\n"
                     "  timeout: 60s\n  compute: low\n")
    assert ladder(plan, "coder")[0][3] == "--effort medium"
    assert ladder(plan, "reviewer")[0][3] == "settings.json thinkingConfig.thinkingBudget=2048"


def test_level_rounds_up_to_what_the_model_has(plan_of: Plan) -> None:
    # Opus 4.5 has low/medium/high: max means its highest; Gemini 3.1 Pro has no minimal.
    plan = plan_of(MINIMAL.replace("model: sonnet", "model: opus-4-5") + "  compute: max\n")
    assert ladder(plan, "coder")[0][3] == "output_config.effort=high"


def test_escalation_that_changes_nothing_is_warned(plan_of: Plan) -> None:
    plan = plan_of(MINIMAL + "  retry_budget: 2\n  vendor_options:\n    effort: high\n"
                   "  on_retry:\n    compute: increased\n")
    assert [w.format() for w in plan.warnings] == [
        "stages.yaml:13:14: warning: coder.on_retry.compute: escalation changes nothing: every "
        "retry sends output_config.effort=high to claude-sonnet-5-5 — unpin vendor_options, or "
        "escalate with on_retry.model"]


def test_model_without_reasoning_control_says_so(plan_of: Plan) -> None:
    text = MINIMAL.replace("model: sonnet", "model: plain") + (
        "  compute: high\nmodels:\n  plain:\n    provider: anthropic\n    context_window: 8000\n"
        "    max_output_tokens: 4000\n"
        "    price: {input: 1, output: 2, cache_write: 1, cache_read: 0.1}\n")
    plan = plan_of(text)
    assert ladder(plan, "coder") == [("anthropic", "plain", "high", "None")]
    assert plan.warnings[0].format().startswith(
        "stages.yaml:9:12: warning: coder.compute: plain on anthropic has no reasoning control, "
        "so compute tiers change nothing")


def test_extension_keys_hold_anchors(plan_of: Plan) -> None:
    plan = plan_of("x-defaults: &d\n  vendor: anthropic\n  timeout: 60s\n"
                   "planner:\n  <<: *d\n  model: opus\ncoder:\n  <<: *d\n  model: sonnet\n")
    assert [s.timeout for s in plan.stages.values()] == [60, 60]


def test_catalog_overrides_apply(plan_of: Plan) -> None:
    plan = plan_of(MINIMAL.replace("model: sonnet", "model: cheap")
                   + "models:\n  claude-haiku-4-5:\n    aliases: [cheap]\n"
                     "pricing:\n  cheap: {input: 0.5}\n")
    entry = plan.stages["coder"].attempts[0].entry
    assert plan.stages["coder"].attempts[0].model_id == "claude-haiku-4-5"
    assert (entry.price.input, entry.price.output) == (0.5, 5.0)
