"""Vendor names as stages.yaml writes them -> the class that implements each.

Adding a vendor is one module and one line here. Modules are imported on first use, so a
config naming only ``anthropic`` never imports Google's code, and no SDK is imported at all
until a call is made.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from harness.errors import UnknownVendorError
from harness.vendors.base import Vendor

VENDORS: dict[str, str] = {
    "anthropic": "harness.vendors.anthropic_sdk:AnthropicVendor",
    "google": "harness.vendors.google_sdk:GoogleVendor",
    "claude-cli": "harness.vendors.claude_cli.vendor:ClaudeCliVendor",
    "gemini-cli": "harness.vendors.gemini_cli.vendor:GeminiCliVendor",
    "scripted": "harness.vendors.scripted:ScriptedVendor",
    "replay": "harness.vendors.replay:ReplayVendor",
    "replay-cli": "harness.vendors.replay:ReplayCliVendor",
}


def vendor_names() -> list[str]:
    return list(VENDORS)


@cache
def get_vendor(name: str) -> Vendor:
    """The vendor registered as ``name``; raises ``UnknownVendorError`` for any other name."""
    try:
        module_name, _, class_name = VENDORS[name].partition(":")
    except KeyError:
        raise UnknownVendorError(f"unknown vendor `{name}` (known: {', '.join(VENDORS)})") from None
    vendor_cls: type[Vendor] = getattr(import_module(module_name), class_name)
    return vendor_cls()
