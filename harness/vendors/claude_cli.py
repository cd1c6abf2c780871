"""The ``claude`` subscription CLI (npm @anthropic-ai/claude-code), run inside the ticket's
container because it executes its own tools."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from harness.config.schema import ModelEntry, Tier
from harness.vendors.anthropic_sdk import Effort, anthropic_control, anthropic_option_problems
from harness.vendors.base import NativeControl, OptionProblem, Vendor, VendorOptions, concept


class ClaudeCliOptions(VendorOptions):
    effort: Effort | None = concept("reasoning", "--effort, pinned for every attempt")
    max_thinking_tokens: Annotated[int, Field(ge=1024)] | None = concept(
        "reasoning", "--max-thinking-tokens, pinned (models without effort)")
    max_turns: Annotated[int, Field(gt=0)] | None = concept("turns", "--max-turns")
    permission_mode: Literal["default", "acceptEdits", "bypassPermissions", "plan"] | None = (
        concept("permissions", "--permission-mode"))
    allowed_tools: list[str] | None = concept("permissions", "--allowedTools")


class ClaudeCliVendor(Vendor):
    name = "claude-cli"
    provider = "anthropic"
    surface = "cli"
    summary = "claude -p (Claude Code CLI, subscription or API key), inside the container"
    prompt_caching = True  # the CLI caches its own prefix; usage reports cache tokens
    default_api_key_env = "ANTHROPIC_API_KEY"
    options = ClaudeCliOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, ClaudeCliOptions)
        return anthropic_control(model, tier, options.effort, options.max_thinking_tokens,
                                 max_output_tokens, effort_name="--effort",
                                 budget_name="--max-thinking-tokens")

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, ClaudeCliOptions)
        return anthropic_option_problems(model_id, model, options.effort,
                                         options.max_thinking_tokens, effort_key="effort",
                                         budget_key="max_thinking_tokens")
