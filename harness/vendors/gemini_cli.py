"""The ``gemini`` CLI (npm @google/gemini-cli), run inside the ticket's container.

The CLI has no reasoning flag; its settings.json ``modelConfigs`` pass a ``thinkingConfig``
through to the API, so tiers map to that file rather than to a flag.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from harness.config.schema import ModelEntry, Tier
from harness.vendors.base import NativeControl, OptionProblem, Vendor, VendorOptions, concept
from harness.vendors.google_sdk import ThinkingLevel, gemini_control, gemini_option_problems

_SETTING = "settings.json thinkingConfig."


class GeminiCliOptions(VendorOptions):
    thinking_level: ThinkingLevel | None = concept(
        "reasoning", "settings.json thinkingConfig.thinkingLevel, pinned (Gemini 3 family)")
    thinking_budget: Annotated[int, Field(ge=-1)] | None = concept(
        "reasoning", "settings.json thinkingConfig.thinkingBudget, pinned (Gemini 2.5 family)")
    max_session_turns: Annotated[int, Field(gt=0)] | None = concept(
        "turns", "settings.json model.maxSessionTurns (the CLI has no turn flag)")
    approval_mode: Literal["default", "auto_edit", "yolo", "plan"] | None = concept(
        "permissions", "--approval-mode (default yolo: the container is the boundary)")


class GeminiCliVendor(Vendor):
    name = "gemini-cli"
    provider = "google"
    surface = "cli"
    summary = "gemini -p (Gemini CLI), inside the container"
    prompt_caching = True
    default_api_key_env = "GEMINI_API_KEY"
    options = GeminiCliOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, GeminiCliOptions)
        return gemini_control(model, tier, options.thinking_level, options.thinking_budget,
                              level_name=_SETTING + "thinkingLevel",
                              budget_name=_SETTING + "thinkingBudget")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, GeminiCliOptions)
        return gemini_option_problems(model_id, model, options.thinking_level,
                                      options.thinking_budget, level_key="thinking_level",
                                      budget_key="thinking_budget")
