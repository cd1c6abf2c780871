"""Each stage's attempt ladder: which vendor, model, tier and native control every attempt uses.

This is where ``on_retry`` is given meaning: attempt 1 runs the stage's own settings; each later
attempt runs the stage's settings with ``on_retry`` laid over them, ``compute: increased`` moving
one tier above the attempt before (capped at ``max``). The pipeline, ``harness check`` and the
cost model all read the same ladder, so what is shown is what runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config.catalog import Catalog
from harness.config.schema import (
    ANY_STAGE,
    ROUTING_ROLES,
    TIERS,
    FallbackConfig,
    ModelEntry,
    StageConfig,
    Tier,
)
from harness.vendors import Vendor, get_vendor
from harness.vendors.types import CallSettings, NativeControl, VendorOptions


@dataclass(frozen=True)
class Attempt:
    number: int  # 1-based
    vendor: Vendor
    model: str  # as written: an alias or an id
    model_id: str
    entry: ModelEntry
    tier: Tier
    control: NativeControl | None
    max_output_tokens: int
    options: VendorOptions
    base_url: str | None
    api_key_env: str
    fallback: Fallback | None = None  # who serves the turns when this attempt's vendor is down

    def settings(self) -> CallSettings:
        """What the vendor needs to make this attempt's call."""
        return CallSettings(self.model_id, self.entry, self.control, self.options,
                            self.max_output_tokens, self.base_url, self.api_key_env)

    def same_backend(self, other: Attempt) -> bool:
        """Whether two attempts would send the same model the same reasoning control."""
        return (self.vendor.name, self.model_id, self.control) == (
            other.vendor.name, other.model_id, other.control)


@dataclass(frozen=True)
class Fallback:
    """The stage's ``fallback:`` for one attempt: its own Attempt (the attempt's tier unless
    ``effort`` pins one) and when it takes over."""

    attempt: Attempt
    after: int  # consecutive failures of the primary
    call_timeout: float  # a primary call not answered by then is a failure
    timeout: float | None  # the attempt's time from the switch on (None: what is left)


@dataclass(frozen=True)
class StagePlan:
    role: str
    config: StageConfig
    attempts: tuple[Attempt, ...]
    attaches_to: tuple[str, ...]
    can_route_to: tuple[str, ...]

    @property
    def timeout(self) -> float:
        return self.config.timeout


def plan_stage(role: str, stage: StageConfig, catalog: Catalog,
               configured: list[str]) -> StagePlan:
    """The ladder of ``1 + retry_budget`` attempts. The config must already be valid."""
    attempts = [_attempt(1, stage, stage.compute, catalog, retry=False)]
    for number in range(2, stage.retry_budget + 2):
        tier = _retry_tier(stage, attempts[-1].tier)
        attempts.append(_attempt(number, stage, tier, catalog, retry=True))
    others = tuple(r for r in configured if r != role) if role in ROUTING_ROLES else ()
    return StagePlan(role, stage, tuple(attempts),
                     _refs(stage.attaches_to, others), _refs(stage.can_route_to, others))


def _refs(value: str | tuple[str, ...] | None, others: tuple[str, ...]) -> tuple[str, ...]:
    if value is None or value == ANY_STAGE:
        return others
    return tuple(value)


def _retry_tier(stage: StageConfig, previous: Tier) -> Tier:
    wanted = stage.on_retry.compute if stage.on_retry else None
    if wanted is None:
        return stage.compute
    if wanted == "increased":
        return TIERS[min(TIERS.index(previous) + 1, len(TIERS) - 1)]
    return wanted


def _attempt(number: int, stage: StageConfig, tier: Tier, catalog: Catalog, *,
             retry: bool) -> Attempt:
    over = stage.on_retry if retry else None
    switching = over is not None and over.vendor not in (None, stage.vendor)
    vendor = get_vendor(over.vendor if over and over.vendor else stage.vendor)

    def pick(name: str) -> object:
        mine = getattr(over, name, None) if over else None
        if mine is not None:
            return mine
        return None if switching else getattr(stage, name)

    model = str(pick("model"))
    found = catalog.resolve(model)
    assert found is not None, f"plan_stage on an unchecked config: {model}"
    model_id, entry = found
    max_out = stage.max_output_tokens or entry.max_output_tokens
    raw_options = pick("vendor_options") or {}
    options = vendor.options.model_validate(raw_options)
    base_url = pick("base_url")
    key_env = pick("api_key_env") or vendor.default_api_key_env
    return Attempt(number, vendor, model, model_id, entry, tier,
                   vendor.compute_control(entry, tier, options, max_out), max_out, options,
                   str(base_url) if base_url else None, str(key_env),
                   _fallback(number, stage, tier, catalog))


def _fallback(number: int, stage: StageConfig, tier: Tier, catalog: Catalog) -> Fallback | None:
    fb: FallbackConfig | None = stage.fallback
    if fb is None:
        return None
    vendor = get_vendor(fb.vendor)
    found = catalog.resolve(fb.model)
    assert found is not None, f"plan_stage on an unchecked config: {fb.model}"
    model_id, entry = found
    max_out = min(stage.max_output_tokens or entry.max_output_tokens, entry.max_output_tokens)
    options = vendor.options.model_validate(fb.vendor_options)
    own = fb.effort or tier
    attempt = Attempt(number, vendor, fb.model, model_id, entry, own,
                      vendor.compute_control(entry, own, options, max_out), max_out, options,
                      fb.base_url, fb.api_key_env or vendor.default_api_key_env)
    return Fallback(attempt, fb.after, fb.call_timeout or stage.timeout / (fb.after + 1),
                    fb.timeout)
