"""Google Gemini through the google-genai SDK."""

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

ThinkingLevel = Literal["minimal", "low", "medium", "high"]


class GoogleOptions(VendorOptions):
    thinking_level: ThinkingLevel | None = concept(
        "reasoning", "thinking_config.thinking_level, pinned (Gemini 3 family)")
    thinking_budget: Annotated[int, Field(ge=-1)] | None = concept(
        "reasoning", "thinking_config.thinking_budget, pinned (Gemini 2.5 family; -1 = dynamic)")
    temperature: Annotated[float, Field(ge=0, le=2)] | None = concept("sampling", "temperature")
    top_p: Annotated[float, Field(gt=0, le=1)] | None = concept("sampling", "nucleus sampling")
    top_k: Annotated[int, Field(gt=0)] | None = concept("sampling", "top-k sampling")


def gemini_control(model: ModelEntry, tier: Tier, level: str | None, budget: int | None, *,
                   level_name: str, budget_name: str) -> NativeControl | None:
    """Shared by the SDK and the gemini CLI (which passes the same thinkingConfig)."""
    if level is not None:
        return NativeControl(level_name, level, pinned=True)
    if budget is not None:
        return NativeControl(budget_name, budget, pinned=True)
    if model.reasoning == "thinking_level":
        picked = pick_level(tier, model.thinking_levels)
        return NativeControl(level_name, picked) if picked else None
    if model.reasoning == "thinking_budget":
        return NativeControl(budget_name, thinking_budget(tier, model, model.max_output_tokens,
                                                          below_max_tokens=False))
    return None


def gemini_option_problems(model_id: str, model: ModelEntry, level: str | None,
                           budget: int | None, *, level_key: str,
                           budget_key: str) -> list[OptionProblem]:
    problems = level_problem(level_key, level, model_id, model.thinking_levels)
    if level is not None and model.reasoning == "thinking_budget":
        problems = [OptionProblem(level_key, f"{model_id} has no thinking_level (Gemini 3 only)",
                                  f"it takes a token budget: use {budget_key}")]
    if budget is not None and model.reasoning == "thinking_level":
        problems.append(OptionProblem(budget_key, f"{model_id} is steered by thinking_level",
                                      f"use {level_key}: " + ", ".join(model.thinking_levels)))
    rng = model.thinking_budget_range
    if budget is not None and budget != -1 and rng and not rng[0] <= budget <= rng[1]:
        problems.append(OptionProblem(budget_key, f"{budget} is outside {model_id}'s range",
                                      f"use {rng[0]}..{rng[1]}, or -1 for dynamic"))
    return problems


class GoogleVendor(Vendor):
    name = "google"
    provider = "google"
    surface = "sdk"
    summary = "Gemini API through the google-genai SDK"
    prompt_caching = True  # implicit caching: repeated prefixes are billed at the cached rate
    default_api_key_env = "GEMINI_API_KEY"
    options = GoogleOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, GoogleOptions)
        return gemini_control(model, tier, options.thinking_level, options.thinking_budget,
                              level_name="thinking_config.thinking_level",
                              budget_name="thinking_config.thinking_budget")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, GoogleOptions)
        return gemini_option_problems(model_id, model, options.thinking_level,
                                      options.thinking_budget, level_key="thinking_level",
                                      budget_key="thinking_budget")
