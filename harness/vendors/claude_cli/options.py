"""The claude-cli vendor's ``vendor_options``: what a stages file may set for it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from harness.vendors.anthropic_sdk import Effort
from harness.vendors.types import VendorOptions, concept


class ClaudeCliOptions(VendorOptions):
    effort: Effort | None = concept("reasoning", "--effort, pinned for every attempt")
    max_thinking_tokens: Annotated[int, Field(ge=1024)] | None = concept(
        "reasoning", "--max-thinking-tokens, pinned (models without effort)")
    max_turns: Annotated[int, Field(gt=0)] | None = concept("turns", "--max-turns")
    permission_mode: Literal["default", "acceptEdits", "bypassPermissions", "plan"] | None = (
        concept("permissions", "--permission-mode"))
    allowed_tools: list[str] | None = concept("permissions", "--allowedTools")
