"""Vendor surfaces: one module per vendor behind ``harness.vendors.base.Vendor``."""

from harness.vendors.base import Vendor
from harness.vendors.registry import get_vendor, vendor_names
from harness.vendors.types import NativeControl

__all__ = ["NativeControl", "Vendor", "get_vendor", "vendor_names"]
