"""Anthropic through its official Python SDK (Messages API)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from harness.config.schema import ModelEntry, Tier
from harness.vendors.base import (
    NativeControl,
    OptionProblem,
    Vendor,
    VendorOptions,
    concept,
    level_problem,
    pick_level,
    thinking_budget,
)

Effort = Literal["low", "medium", "high", "xhigh", "max"]


class AnthropicOptions(VendorOptions):
    effort: Effort | None = concept("reasoning", "output_config.effort, pinned for every attempt")
    thinking_budget_tokens: Annotated[int, Field(ge=1024)] | None = concept(
        "reasoning", "thinking.budget_tokens, pinned (models without effort)")
    temperature: Annotated[float, Field(ge=0, le=1)] | None = concept("sampling", "temperature")
    top_p: Annotated[float, Field(gt=0, le=1)] | None = concept("sampling", "nucleus sampling")
    top_k: Annotated[int, Field(gt=0)] | None = concept("sampling", "top-k sampling")
    prompt_caching: bool | None = concept(
        "caching", "cache_control on the stable prefix (default on)")


def anthropic_control(model: ModelEntry, tier: Tier, effort: str | None, budget: int | None,
                      max_output_tokens: int, *, effort_name: str, budget_name: str
                      ) -> NativeControl | None:
    """Shared by the SDK and the claude CLI: the same models, spelled as a field or a flag."""
    if effort is not None:
        return NativeControl(effort_name, effort, pinned=True)
    if budget is not None:
        return NativeControl(budget_name, budget, pinned=True)
    if model.reasoning == "effort":
        level = pick_level(tier, model.effort_levels)
        return NativeControl(effort_name, level) if level else None
    if model.reasoning == "thinking_budget":
        return NativeControl(budget_name, thinking_budget(tier, model, max_output_tokens,
                                                          below_max_tokens=True))
    return None


def anthropic_option_problems(model_id: str, model: ModelEntry, effort: str | None,
                              budget: int | None, *, effort_key: str,
                              budget_key: str) -> list[OptionProblem]:
    problems = level_problem(effort_key, effort, model_id, model.effort_levels)
    if effort is not None and model.reasoning == "thinking_budget":
        problems = [OptionProblem(effort_key, f"{model_id} has no effort control",
                                  f"it is steered by a thinking budget: use {budget_key}")]
    if budget is not None and model.reasoning == "effort":
        problems.append(OptionProblem(budget_key, f"{model_id} is steered by effort, not a "
                                      "thinking budget", f"use {effort_key}: low … max"))
    if effort is not None and budget is not None:
        problems.append(OptionProblem(budget_key, f"both {effort_key} and {budget_key} are set",
                                      "keep one"))
    return problems


class AnthropicVendor(Vendor):
    name = "anthropic"
    provider = "anthropic"
    surface = "sdk"
    summary = "Anthropic Messages API through the official SDK"
    prompt_caching = True
    default_api_key_env = "ANTHROPIC_API_KEY"
    options = AnthropicOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, AnthropicOptions)
        return anthropic_control(model, tier, options.effort, options.thinking_budget_tokens,
                                 max_output_tokens, effort_name="output_config.effort",
                                 budget_name="thinking.budget_tokens")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, AnthropicOptions)
        return anthropic_option_problems(model_id, model, options.effort,
                                         options.thinking_budget_tokens, effort_key="effort",
                                         budget_key="thinking_budget_tokens")
