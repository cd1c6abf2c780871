"""A stage's ``fallback:``: planned per attempt, checked like a stage at load time (refusals name
file:line), warned about when it lacks the stage's effort, shown by check and priced by cost."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from harness.stages import RunPlan
from tests.conftest import MINIMAL

Refuse = Callable[[str], list[str]]
Plan = Callable[[str], RunPlan]

CODER = MINIMAL + """\
  retry_budget: 2
  on_retry: {compute: increased}
"""


def with_fallback(body: str, base: str = CODER) -> str:
    return base + "  fallback:\n" + "".join(f"    {line}\n" for line in body.splitlines())


def errors(lines: list[str]) -> list[str]:
    return [line for line in lines if ": warning: " not in line]


def test_the_fallback_follows_the_ladder_and_waits_a_share_of_the_timeout(plan_of: Plan) -> None:
    plan = plan_of(with_fallback("vendor: google\nmodel: gemini-pro\nbase_url: http://g:1"))
    coder = plan.stages["coder"]
    backups = [a.fallback for a in coder.attempts]
    assert all(b is not None for b in backups)
    assert [b.attempt.vendor.name for b in backups if b] == ["google"] * 3
    assert [b.attempt.model_id for b in backups if b] == ["gemini-3.1-pro-preview"] * 3
    # The attempt's own tier (on_retry escalation) reaches the fallback's control.
    assert [str(b.attempt.control) for b in backups if b] == [
        "thinking_config.thinking_level=medium", "thinking_config.thinking_level=high",
        "thinking_config.thinking_level=high"]
    first = backups[0]
    assert first is not None
    assert (first.after, first.call_timeout, first.timeout) == (2, 40.0, None)
    assert first.attempt.api_key_env == "GEMINI_API_KEY"
    assert first.attempt.base_url == "http://g:1"
    assert plan.stages["planner"].attempts[0].fallback is None


def test_effort_after_and_timeouts_are_its_own(plan_of: Plan) -> None:
    plan = plan_of(with_fallback("vendor: google\nmodel: gemini-pro\neffort: low\nafter: 3\n"
                                 "timeout: 5m\ncall_timeout: 10s\napi_key_env: MY_GEMINI"))
    fb = plan.stages["coder"].attempts[2].fallback
    assert fb is not None
    assert str(fb.attempt.control) == "thinking_config.thinking_level=low"
    assert (fb.after, fb.call_timeout, fb.timeout) == (3, 10.0, 300.0)
    assert fb.attempt.api_key_env == "MY_GEMINI"


def test_an_unknown_fallback_vendor_is_refused_at_its_line(refusal: Refuse) -> None:
    got = errors(refusal(with_fallback("vendor: openai\nmodel: gpt")))
    assert got == ["stages.yaml:12:13: coder.fallback.vendor: unknown vendor `openai` — "
                   "vendors are: anthropic, claude-cli, gemini-cli, google, replay, replay-cli, "
                   "scripted"]


def test_a_fallback_that_is_the_primary_itself_is_refused(refusal: Refuse) -> None:
    got = errors(refusal(with_fallback("vendor: anthropic\nmodel: claude-sonnet-5-5")))
    assert got == ["stages.yaml:13:12: coder.fallback.model: the fallback is the stage's own "
                   "vendor and model (anthropic, claude-sonnet-5-5): it would fail with it — "
                   "name another vendor (or model, or base_url) for the fallback"]


def test_a_model_the_fallback_vendor_does_not_serve_is_refused(refusal: Refuse) -> None:
    got = errors(refusal(with_fallback("vendor: google\nmodel: sonnet")))
    assert len(got) == 1
    assert got[0].startswith("stages.yaml:13:12: coder.fallback.model: `sonnet` is a anthropic "
                             "model; google serves google models"), got[0]


def test_a_cli_fallback_and_a_fallback_on_a_cli_stage_are_refused(refusal: Refuse) -> None:
    got = errors(refusal(with_fallback("vendor: gemini-cli\nmodel: gemini-pro")))
    assert len(got) == 1
    assert got[0].startswith("stages.yaml:12:13: coder.fallback.vendor: gemini-cli runs a whole "
                             "attempt in the container"), got[0]
    cli_stage = CODER.replace("vendor: anthropic\n  model: sonnet",
                              "vendor: claude-cli\n  model: sonnet")
    got = errors(refusal(with_fallback("vendor: google\nmodel: gemini-pro", cli_stage)))
    assert len(got) == 1
    assert got[0].startswith("stages.yaml:11:3: coder.fallback: claude-cli runs a whole "
                             "attempt as one session"), got[0]


def test_a_fallback_without_a_model_and_bad_options_are_refused(refusal: Refuse) -> None:
    got = errors(refusal(with_fallback("vendor: google\nafter: 0")))
    assert [g.split(": ")[0:2] for g in got] == [
        ["stages.yaml:11:3", "coder.fallback.model"], ["stages.yaml:13:12", "coder.fallback.after"]]
    got = errors(refusal(with_fallback("vendor: google\nmodel: gemini-pro\n"
                                       "vendor_options: {effort: high}")))
    assert len(got) == 1
    assert got[0].startswith("stages.yaml:14:22: coder.fallback.vendor_options.effort: "
                             "`effort` is a anthropic/claude-cli control"), got[0]


PLAIN_MODEL = """\
models:
  plain-1:
    provider: google
    context_window: 100000
    max_output_tokens: 8000
    price: {input: 1, output: 2, cache_write: 1, cache_read: 0.1}
"""


def test_an_effort_the_fallback_lacks_is_a_warning(plan_of: Plan) -> None:
    plan = plan_of(with_fallback("vendor: google\nmodel: plain-1\neffort: high") + PLAIN_MODEL)
    (warning,) = [w.format() for w in plan.warnings if "fallback" in w.format()]
    assert warning == ("stages.yaml:14:13: warning: coder.fallback.effort: plain-1 has no "
                       "reasoning control: effort `high` changes nothing on the fallback's "
                       "turns — pick a fallback model with effort or thinking controls, or drop "
                       "effort")
    plan = plan_of(with_fallback("vendor: google\nmodel: plain-1") + PLAIN_MODEL)
    (warning,) = [w.format() for w in plan.warnings if "fallback" in w.format()]
    assert "the stage's compute (medium, high, max) changes nothing" in warning
    plan = plan_of(with_fallback("vendor: anthropic\nmodel: opus-4-5\neffort: max", CODER.replace(
        "vendor: anthropic\n  model: sonnet", "vendor: google\n  model: gemini-flash")))
    assert not [w for w in plan.warnings if "fallback" in w.format()]  # max = its highest
    plan = plan_of(with_fallback("vendor: google\nmodel: gemini-pro\neffort: max"))
    assert not [w for w in plan.warnings if "fallback" in w.format()]


def test_check_shows_the_fallback_and_cost_prices_its_path(write: Callable[..., Path]) -> None:
    path = write(with_fallback("vendor: google\nmodel: gemini-flash-lite\nafter: 3"))
    runner = CliRunner()
    shown = runner.invoke(main, ["check", "-c", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "Fallback when a stage's vendor is down" in shown.output
    assert "gemini-flash-lite" in shown.output
    data = json.loads(runner.invoke(main, ["check", "-c", str(path), "--json"]).output)
    coder = next(s for s in data["stages"] if s["stage"] == "coder")
    assert coder["attempts"][0]["fallback"]["model_id"] == "gemini-3.1-flash-lite"
    assert coder["attempts"][0]["fallback"]["after"] == 3
    cost = json.loads(runner.invoke(main, ["cost", "-c", str(path), "--json"]).output)
    fb = cost["fallback_paths"]["coder"]
    assert set(fb["models"]) == {"gemini-3.1-flash-lite"}
    # Flash-Lite is far cheaper than Sonnet: the fallback path costs less, priced apart.
    assert 0 < fb["worst_case"]["cost_usd"] < cost["worst_case"]["cost_usd"]
    assert cost["stages"]["coder"]["worst_case_usd"] > fb["stage_worst_case_usd"] > 0
    table = runner.invoke(main, ["cost", "-c", str(path)]).output
    assert "If the fallback serves every turn of a stage" in table
