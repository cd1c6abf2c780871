"""The JSON Schema of stages.yaml, generated from the pydantic models, with the registered
vendor names and catalog aliases filled in so editors can complete them."""

from __future__ import annotations

from typing import Any

from harness.config.catalog import packaged_catalog
from harness.config.schema import StagesFile
from harness.vendors import get_vendor, vendor_names


def stages_schema() -> dict[str, Any]:
    schema = StagesFile.model_json_schema()
    schema["title"] = "harness stages.yaml"
    defs = schema["$defs"]
    vendors = vendor_names()
    for name in ("StageConfig", "OnRetry"):
        props = defs[name]["properties"]
        _set(props["vendor"], {"enum": vendors})
        _set(props["model"], {"examples": packaged_catalog().names()})
        props["vendor_options"]["description"] = "Vendor-native knobs. " + "; ".join(
            f"{v}: {', '.join(get_vendor(v).controls())}" for v in vendors)
    return schema


def _set(prop: dict[str, Any], extra: dict[str, Any]) -> None:
    """Add ``extra`` to a property, or to its non-null branch when it is optional."""
    branches = prop.get("anyOf")
    target = next((b for b in branches if b.get("type") != "null"), prop) if branches else prop
    target.update(extra)
