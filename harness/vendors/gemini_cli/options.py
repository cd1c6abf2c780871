"""The gemini-cli vendor's ``vendor_options``: what a stages file may set for it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from harness.vendors.google_sdk import ThinkingLevel
from harness.vendors.types import VendorOptions, concept


class GeminiCliOptions(VendorOptions):
    thinking_level: ThinkingLevel | None = concept(
        "reasoning", "settings.json thinkingConfig.thinkingLevel, pinned (Gemini 3 family)")
    thinking_budget: Annotated[int, Field(ge=-1)] | None = concept(
        "reasoning", "settings.json thinkingConfig.thinkingBudget, pinned (Gemini 2.5 family)")
    max_session_turns: Annotated[int, Field(gt=0)] | None = concept(
        "turns", "settings.json model.maxSessionTurns (the CLI has no turn flag)")
    approval_mode: Literal["default", "auto_edit", "yolo", "plan"] | None = concept(
        "permissions", "--approval-mode (default yolo: the container is the boundary)")
