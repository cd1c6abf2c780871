"""The vendor boundary: what a vendor exposes (its capability envelope) and how abstract compute
tiers become that vendor's own control.

A vendor module subclasses ``Vendor`` and is listed in ``harness.vendors.registry``. Importing a
vendor module must not import its SDK: config checks run before any client exists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Literal

from harness.config.schema import ModelEntry, Provider, Tier
from harness.vendors.errors import VendorError
from harness.vendors.types import (
    CommandRunner,
    ModelRequest,
    ModelResponse,
    NativeControl,
    OptionProblem,
    VendorOptions,
)

# Level names in increasing order of reasoning spend, across vendors.
LEVEL_ORDER: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh", "max")
# Abstract tier -> thinking-token budget, for models steered by a budget (clamped per model).
THINKING_BUDGET_FOR_TIER: dict[Tier, int] = {"low": 2048, "medium": 8192, "high": 16384,
                                             "max": 32768}


class Vendor(ABC):
    """A backend a stage can be routed to, described by what it can do.

    ``compute_control`` raises nothing: a model that has no reasoning control maps every tier to
    ``None``, and ``harness check`` says so. ``option_problems`` reports, never raises.
    """

    name: ClassVar[str]
    provider: ClassVar[Provider | None]  # whose models it serves; None: any catalog model
    surface: ClassVar[Literal["sdk", "cli"]]
    summary: ClassVar[str]
    prompt_caching: ClassVar[bool]  # whether a stable prefix is billed at cache prices
    default_api_key_env: ClassVar[str]
    options: ClassVar[type[VendorOptions]]

    @abstractmethod
    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        """The native control for ``tier`` on ``model`` (``options`` may pin it)."""

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        """One model call, finished by ``request.deadline``.

        Raises ``VendorAuthError`` (never retried), ``RateLimitedError`` and
        ``TransientVendorError`` (after the retries that fit the deadline),
        ``VendorTimeoutError``, ``ContextTooLongError``, ``RefusalError``,
        ``MalformedResponseError`` and, for CLIs, ``CliCrashError``. CLI vendors run their
        process through ``runner`` (the ticket's sandbox), never on the host.
        """
        raise VendorError(self.name, "this version of harness cannot call this vendor yet; "
                          "route the stage to another vendor")

    def cache_plan(self, entry: ModelEntry, options: VendorOptions, timeout_s: float) -> str:
        """What this vendor caches of a stage's prompts and when, for ``harness check``."""
        if not self.prompt_caching:
            return "none"
        return "the vendor's own (prefix caching)" if self.surface == "cli" else "prefix"

    def model_problem(self, model_id: str) -> OptionProblem | None:
        """Why this vendor cannot serve ``model_id`` although the catalog gives the model to its
        provider (checked by ``harness check`` before any call), or None."""
        return None

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        """Options that the vendor accepts in general but ``model`` does not."""
        return []

    def controls(self) -> list[str]:
        """Every vendor_options key, for messages and the docs."""
        return list(self.options.model_fields)

    def concept_of(self, key: str) -> str | None:
        """The cross-vendor concept an option key controls, if it is tagged with one."""
        field = self.options.model_fields.get(key)
        extra = field.json_schema_extra if field else None
        return str(extra["concept"]) if isinstance(extra, dict) and "concept" in extra else None

    def equivalents(self, concept_name: str) -> list[str]:
        """This vendor's option keys that control ``concept_name`` (e.g. reasoning)."""
        return [name for name, f in self.options.model_fields.items()
                if isinstance(f.json_schema_extra, dict)
                and f.json_schema_extra.get("concept") == concept_name]


def pick_level(tier: Tier, available: Sequence[str]) -> str | None:
    """The tier's own level when the model has it, else the next higher one it has, else its
    highest. ``max`` always means the model's highest."""
    ranked = sorted(available, key=LEVEL_ORDER.index)
    if not ranked:
        return None
    if tier == "max":
        return ranked[-1]
    want = LEVEL_ORDER.index(tier)
    return next((lvl for lvl in ranked if LEVEL_ORDER.index(lvl) >= want), ranked[-1])


def thinking_budget(tier: Tier, model: ModelEntry, max_output_tokens: int,
                    *, below_max_tokens: bool) -> int:
    """The tier's budget clamped to the model's range (and below max_tokens where the API
    requires the answer to fit beside the thinking)."""
    low, high = model.thinking_budget_range or (0, THINKING_BUDGET_FOR_TIER["max"])
    if below_max_tokens:
        high = min(high, max_output_tokens - 1)
    return max(low, min(THINKING_BUDGET_FOR_TIER[tier], high))


def level_problem(key: str, value: str | None, model_id: str,
                  available: Sequence[str]) -> list[OptionProblem]:
    """An option that names a level the model does not accept."""
    if value is None or value in available:
        return []
    if not available:
        return [OptionProblem(key, f"{model_id} has no `{key}` control",
                              "remove it; see `harness check` for the control this model has")]
    return [OptionProblem(key, f"{model_id} does not accept {key} `{value}`",
                          "use one of: " + ", ".join(available))]
