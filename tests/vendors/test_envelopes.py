"""Capability envelopes: the registry, and how each vendor maps abstract tiers."""

from __future__ import annotations

import pytest

from harness.config.catalog import packaged_catalog
from harness.config.schema import TIERS
from harness.errors import HarnessError, UnknownVendorError
from harness.vendors import get_vendor, vendor_names
from harness.vendors.base import LEVEL_ORDER, pick_level


def test_registry_knows_every_vendor() -> None:
    assert vendor_names() == ["anthropic", "google", "claude-cli", "gemini-cli", "scripted",
                              "replay", "replay-cli"]
    for name in vendor_names():
        assert get_vendor(name).name == name


def test_unknown_vendor_is_a_harness_error_and_a_key_error() -> None:
    with pytest.raises(UnknownVendorError) as info:
        get_vendor("openai")
    assert isinstance(info.value, HarnessError)
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "unknown vendor `openai` (known: anthropic, google, claude-cli, " \
                              "gemini-cli, scripted, replay, replay-cli)"


@pytest.mark.parametrize(("tier", "levels", "expected"), [
    ("medium", ["low", "medium", "high"], "medium"),
    ("medium", ["low", "high"], "high"),
    ("max", ["low", "medium", "high"], "high"),
    ("low", ["minimal", "high"], "high"),
    ("high", ["low"], "low"),
    ("low", [], None),
])
def test_pick_level(tier: str, levels: list[str], expected: str | None) -> None:
    assert pick_level(tier, levels) == expected  # type: ignore[arg-type]


def test_every_catalog_model_maps_every_tier_on_its_vendors() -> None:
    catalog = packaged_catalog()
    for model_id, entry in catalog.models.items():
        assert set(entry.effort_levels) <= set(LEVEL_ORDER), model_id
        for vendor in (get_vendor(n) for n in vendor_names()):
            if vendor.provider != entry.provider:
                continue
            opts = vendor.options()
            controls = [vendor.compute_control(entry, t, opts, entry.max_output_tokens)
                        for t in TIERS]
            assert all(c is not None for c in controls), (vendor.name, model_id)


def test_equivalents_cross_vendors() -> None:
    assert get_vendor("google").equivalents("reasoning") == ["thinking_level", "thinking_budget"]
    assert get_vendor("anthropic").equivalents("reasoning") == ["effort",
                                                                "thinking_budget_tokens"]
    assert get_vendor("gemini-cli").concept_of("max_session_turns") == "turns"
    assert get_vendor("claude-cli").equivalents("turns") == ["max_turns"]


def test_aliases_resolve_to_their_provider() -> None:
    catalog = packaged_catalog()
    for alias in ("opus", "sonnet", "haiku"):
        assert catalog.resolve(alias)[1].provider == "anthropic"  # type: ignore[index]
    for alias in ("gemini-pro", "gemini-flash", "gemini-flash-lite"):
        assert catalog.resolve(alias)[1].provider == "google"  # type: ignore[index]
