"""Every refusal rule, with the exact line and column it reports. A refused config raises
ConfigError carrying all of its problems at once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.stages import RunPlan
from tests.conftest import MINIMAL, SEED

Refuse = Callable[[str], list[str]]


def errors(lines: list[str]) -> list[str]:
    return [line for line in lines if ": warning: " not in line]


def test_missing_timeout_is_refused_with_the_stage_line(refusal: Refuse) -> None:
    text = SEED.replace("  timeout: 120s\n  retry_budget: 3\n", "  retry_budget: 3\n")
    assert errors(refusal(text)) == [
        "stages.yaml:8:1: coder.timeout: no timeout — every stage declares its own timeout "
        "(no default, none inherited): add e.g. `timeout: 120s`"]


def test_every_stage_without_timeout_is_reported_at_once(refusal: Refuse) -> None:
    text = "\n".join(line for line in SEED.splitlines() if "timeout:" not in line)
    got = errors(refusal(text))
    assert [g.split(":")[:4] for g in got] == [
        ["stages.yaml", "1", "1", " planner.timeout"],
        ["stages.yaml", "7", "1", " coder.timeout"],
        ["stages.yaml", "15", "1", " debugger.timeout"],
        ["stages.yaml", "23", "1", " reviewer.timeout"]]


@pytest.mark.parametrize(("value", "expected"), [
    ("300", "`300` has no unit — write 300s (seconds), or use m / h"),
    ("0s", "`0s` is zero"),
    ("-5s", "`-5s` is negative"),
    ("48h", "`48h` is longer than 24h — a stage that may hang for a day is not bounded"),
    ("soon", "`soon` is not a duration"),
])
def test_bad_timeouts(refusal: Refuse, value: str, expected: str) -> None:
    got = errors(refusal(MINIMAL.replace("timeout: 120s", f"timeout: {value}")))
    assert len(got) == 1
    assert got[0].startswith(f"stages.yaml:8:12: coder.timeout: {expected}"), got[0]


def test_unknown_vendor_lists_the_valid_ones(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL.replace("vendor: anthropic\n  model: sonnet",
                                         "vendor: openai\n  model: sonnet")))
    assert got == ["stages.yaml:6:11: coder.vendor: unknown vendor `openai` — vendors are: "
                   "anthropic, claude-cli, gemini-cli, google, replay, replay-cli, scripted"]


def test_vendor_typo_gets_a_suggestion(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL.replace("vendor: anthropic\n  model: sonnet",
                                         "vendor: antropic\n  model: sonnet")))
    assert got == ["stages.yaml:6:11: coder.vendor: unknown vendor `antropic` — did you mean "
                   "`anthropic`?"]


def test_unknown_model_alias_lists_close_matches(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL.replace("model: sonnet", "model: sonet")))
    assert len(got) == 1
    assert got[0].startswith("stages.yaml:7:10: coder.model: unknown model `sonet` — did you "
                             "mean `sonnet`"), got[0]
    assert got[0].endswith("(or add it under `models:` with its price)")


def test_model_of_another_vendor(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL.replace("model: sonnet", "model: gemini-flash")))
    assert got[0].startswith("stages.yaml:7:10: coder.model: `gemini-flash` is a google model; "
                             "anthropic serves anthropic models — use one of: "), got[0]
    assert "sonnet" in got[0]


def test_unknown_key_suggests_the_nearest(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "  retry_budjet: 2\n"))
    assert got == ["stages.yaml:9:3: coder.retry_budjet: unknown key `retry_budjet` — did you "
                   "mean `retry_budget`?"]


def test_unknown_key_inside_on_retry(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "  retry_budget: 1\n  on_retry:\n    comptue: increased\n"))
    assert got == ["stages.yaml:11:5: coder.on_retry.comptue: unknown key `comptue` — did you "
                   "mean `compute`?"]


def test_unknown_stage_name(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "planer:\n  vendor: anthropic\n"))
    assert got == ["stages.yaml:9:1: planer: unknown stage or key `planer` — did you mean "
                   "`planner`?"]


def test_unknown_top_level_key_lists_stages_and_run_keys(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "budget: 5\n"))
    assert got[0].startswith("stages.yaml:9:1: budget: unknown stage or key `budget` — stages "
                             "are planner, coder, debugger, reviewer; run-wide keys are "
                             "token_cap, cost_cap_usd, sandbox, models, pricing"), got[0]


@pytest.mark.parametrize(("value", "expected"), [
    ("-1", "input should be greater than or equal to 0"),
    ("1.5", "`1.5` is not a whole number — write an integer"),
    ("two", "`two` is not a whole number — write an integer"),
])
def test_bad_retry_budget(refusal: Refuse, value: str, expected: str) -> None:
    got = errors(refusal(MINIMAL + f"  retry_budget: {value}\n"))
    assert got == [f"stages.yaml:9:17: coder.retry_budget: {expected}"]


def test_on_retry_with_zero_budget_is_a_warning_not_a_refusal(
        plan_of: Callable[[str], object]) -> None:
    plan = plan_of(MINIMAL + "  on_retry:\n    compute: increased\n")
    assert [w.format() for w in plan.warnings] == [  # type: ignore[attr-defined]
        "stages.yaml:9:3: warning: coder.on_retry: never applies: retry_budget is 0 (the "
        "default), so there is no retry — set retry_budget: 1 or more, or remove on_retry"]


def test_routes_naming_missing_or_unknown_stages(refusal: Refuse) -> None:
    text = MINIMAL + ("debugger:\n  vendor: anthropic\n  model: sonnet\n  timeout: 300s\n"
                      "  can_route_to: [coder, reviewer, plannr, debugger]\n"
                      "  attaches_to: [coderr]\n")
    assert errors(refusal(text)) == [
        "stages.yaml:13:25: debugger.can_route_to[1]: `reviewer` is not configured in this "
        "file — add a `reviewer:` stage or drop it from the list",
        "stages.yaml:13:35: debugger.can_route_to[2]: unknown stage `plannr` — did you mean "
        "`planner`?",
        "stages.yaml:13:43: debugger.can_route_to[3]: the debugger cannot name itself — list the "
        "other stages it watches or routes fixes to",
        "stages.yaml:14:17: debugger.attaches_to[0]: unknown stage `coderr` — did you mean "
        "`coder`?",
    ]


def test_routing_keys_only_on_the_debugger(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "  can_route_to: any_stage\n"))
    assert got == ["stages.yaml:9:3: coder.can_route_to: only the debugger attaches to stages "
                   "and routes fixes — remove this key"]


def test_repo_map_tokens_only_on_the_planner(refusal: Refuse, plan_of: Callable[[str], RunPlan]
                                             ) -> None:
    got = errors(refusal(MINIMAL + "  repo_map_tokens: 500\n"))
    assert got == ["stages.yaml:9:3: coder.repo_map_tokens: only the planner gets the repository "
                   "map in its prompt (the Coder has the `repo_map` tool) — remove this key"]
    assert errors(refusal(MINIMAL.replace("timeout: 300s", "timeout: 300s\n  repo_map_tokens: "
                                          "-1"))) == [
        "stages.yaml:5:20: planner.repo_map_tokens: input should be greater than or equal to 0"]
    plan = plan_of(MINIMAL.replace("timeout: 300s", "timeout: 300s\n  repo_map_tokens: 0"))
    assert plan.config.planner.repo_map_tokens == 0


def test_route_value_that_is_neither_form(refusal: Refuse) -> None:
    text = MINIMAL + ("debugger:\n  vendor: anthropic\n  model: sonnet\n  timeout: 300s\n"
                      "  can_route_to: everywhere\n")
    assert errors(refusal(text)) == [
        "stages.yaml:13:17: debugger.can_route_to: `everywhere` is neither any_stage nor a list "
        "of stage names — write `any_stage` or a list such as [planner, coder]"]


def test_unknown_on_exhaust(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "  on_exhaust: give_up\n"))
    assert got == ["stages.yaml:9:15: coder.on_exhaust: `give_up` is not a valid on_exhaust — "
                   "use one of: halt or surface_to_human"]


def test_effort_on_a_google_stage_names_googles_equivalents(refusal: Refuse) -> None:
    text = MINIMAL + ("reviewer:\n  vendor: google\n  model: gemini-flash\n  timeout: 120s\n"
                      "  vendor_options:\n    effort: high\n")
    assert errors(refusal(text)) == [
        "stages.yaml:14:5: reviewer.vendor_options.effort: `effort` is a anthropic/claude-cli "
        "control; google has no `effort` — google's equivalents: thinking_level, "
        "thinking_budget"]


def test_option_no_vendor_has(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "  vendor_options:\n    temprature: 0.2\n"))
    assert got == ["stages.yaml:10:5: coder.vendor_options.temprature: anthropic has no option "
                   "`temprature` — did you mean `temperature`?"]


def test_effort_level_the_model_lacks(refusal: Refuse) -> None:
    text = MINIMAL.replace("model: sonnet", "model: opus-4-5") + (
        "  vendor_options:\n    effort: max\n")
    assert errors(refusal(text)) == [
        "stages.yaml:10:13: coder.vendor_options.effort: claude-opus-4-5 does not accept effort "
        "`max` — use one of: low, medium, high"]


def test_effort_on_a_budget_only_model(refusal: Refuse) -> None:
    text = MINIMAL.replace("model: sonnet", "model: sonnet-4-5") + (
        "  vendor_options:\n    effort: high\n")
    assert errors(refusal(text)) == [
        "stages.yaml:10:13: coder.vendor_options.effort: claude-sonnet-4-5 has no effort control "
        "— it is steered by a thinking budget: use thinking_budget_tokens"]


def test_thinking_level_on_a_gemini_2_5_model(refusal: Refuse) -> None:
    text = MINIMAL + ("reviewer:\n  vendor: google\n  model: gemini-2.5-flash\n"
                      "  timeout: 120s\n  vendor_options:\n    thinking_level: high\n")
    assert errors(refusal(text)) == [
        "stages.yaml:14:21: reviewer.vendor_options.thinking_level: gemini-2.5-flash has no "
        "thinking_level (Gemini 3 only) — it takes a token budget: use thinking_budget"]


def test_on_retry_vendor_switch_needs_a_model(refusal: Refuse) -> None:
    text = MINIMAL + "  retry_budget: 1\n  on_retry:\n    vendor: google\n"
    assert errors(refusal(text)) == [
        "stages.yaml:11:13: coder.on_retry.vendor: switches to google but names no model — "
        "`sonnet` belongs to anthropic: add on_retry.model"]


def test_on_retry_model_of_the_wrong_vendor(refusal: Refuse) -> None:
    text = MINIMAL + "  retry_budget: 1\n  on_retry:\n    model: gemini-pro\n"
    got = errors(refusal(text))
    assert got[0].startswith("stages.yaml:11:12: coder.on_retry.model: `gemini-pro` is a google "
                             "model; anthropic serves anthropic models"), got


def test_pinned_option_that_a_retry_model_rejects(refusal: Refuse) -> None:
    text = MINIMAL + ("  retry_budget: 1\n  vendor_options:\n    effort: max\n"
                      "  on_retry:\n    model: opus-4-5\n")
    assert errors(refusal(text)) == [
        "stages.yaml:13:12: coder.on_retry.model: vendor_options.effort: claude-opus-4-5 does "
        "not accept effort `max` — use one of: low, medium, high"]


def test_max_output_tokens_above_the_model_limit(refusal: Refuse) -> None:
    text = MINIMAL.replace("model: sonnet", "model: haiku-4-5") + "  max_output_tokens: 100000\n"
    assert errors(refusal(text)) == [
        "stages.yaml:9:22: coder.max_output_tokens: 100000 is more than claude-haiku-4-5 can "
        "produce (64000) — use at most 64000"]


def test_api_key_env_must_be_a_variable_name(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "  api_key_env: sk-ant-123\n"))
    assert got == ["stages.yaml:9:16: coder.api_key_env: `sk-ant-123` is not an environment "
                   "variable name — name the variable that holds the key, e.g. "
                   "ANTHROPIC_API_KEY — never the key itself"]


def test_missing_required_stage(refusal: Refuse) -> None:
    got = errors(refusal("planner:\n  vendor: anthropic\n  model: opus\n  timeout: 300s\n"))
    assert got == ["stages.yaml:1:1: coder: stage missing — the pipeline needs planner and "
                   "coder: add a `coder:` entry"]


def test_stage_that_is_not_a_mapping(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "reviewer: gemini\n"))
    assert got == ["stages.yaml:9:11: reviewer: must be a mapping, not `gemini` — write "
                   "`reviewer:` followed by indented `key: value` lines"]


def test_new_model_override_needs_a_price(refusal: Refuse) -> None:
    text = MINIMAL.replace("model: sonnet", "model: my-model") + (
        "models:\n  my-model:\n    provider: anthropic\n    context_window: 200000\n")
    got = errors(refusal(text))
    assert got == ["stages.yaml:10:3: models.my-model: not in the catalog and incomplete: "
                   "missing max_output_tokens, price — a new model needs provider, "
                   "context_window, max_output_tokens and price"]


def test_pricing_for_an_unknown_model(refusal: Refuse) -> None:
    got = errors(refusal(MINIMAL + "pricing:\n  gpt-9: {input: 1}\n"))
    assert got == ["stages.yaml:10:3: pricing.gpt-9: `gpt-9` is not in the catalog — price a "
                   "known alias or id, or add it under models:"]


def test_problems_in_several_stages_are_all_reported(refusal: Refuse) -> None:
    text = SEED.replace("model: opus ", "model: opuss").replace(
        "  timeout: 120s\n  retry_budget: 3", "  retry_budget: 3").replace(
        "vendor: google", "vendor: gogle").replace("on_exhaust: halt", "on_exhaust: stop")
    got = errors(refusal(text))
    assert [g.split(": ")[1] for g in got] == [
        "planner.model", "coder.timeout", "coder.on_exhaust", "reviewer.vendor"]


def test_a_cli_stage_needs_the_egress_proxy(refusal: Refuse) -> None:
    text = MINIMAL.replace("vendor: anthropic\n  model: sonnet", "vendor: claude-cli\n  model: "
                           "sonnet") + "sandbox:\n  network: none\n"
    assert errors(refusal(text)) == [
        "stages.yaml:6:11: coder.vendor: claude-cli runs in the container and reaches its API "
        "through the egress proxy, which sandbox.network: none forbids — set sandbox.network: "
        "cli-only (the default), or use an SDK vendor"]
