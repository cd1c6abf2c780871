"""The model catalog: short aliases -> model ids, per-million-token prices, limits and the
reasoning control each model has. Shipped as ``catalog.yaml``; stages.yaml may add models
(``models:``) and change prices (``pricing:``) for one project without touching the package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML

from harness.config.schema import Frozen, ModelEntry, ModelOverride, PriceOverride, Provider
from harness.errors import CatalogError


class CatalogFile(Frozen):
    aliases: dict[str, str]
    models: dict[str, ModelEntry]


@dataclass(frozen=True)
class Override:
    """One override that could not be applied: where (``models.ID`` or ``pricing.NAME``) and why."""

    path: tuple[str, ...]
    message: str
    hint: str


@dataclass(frozen=True)
class Catalog:
    aliases: Mapping[str, str]
    models: Mapping[str, ModelEntry]

    def resolve(self, name: str) -> tuple[str, ModelEntry] | None:
        """The model id and entry for an alias or id, or None when the catalog has neither."""
        model_id = self.aliases.get(name, name)
        entry = self.models.get(model_id)
        return (model_id, entry) if entry else None

    def names(self, provider: Provider | None = None) -> list[str]:
        """Every alias and id (of one provider, when given), aliases first."""
        ids = [m for m, e in self.models.items() if provider in (None, e.provider)]
        aliases = [a for a, m in self.aliases.items() if m in ids]
        return sorted(aliases) + sorted(ids)

    def with_overrides(self, models: Mapping[str, ModelOverride],
                       pricing: Mapping[str, PriceOverride]) -> tuple[Catalog, list[Override]]:
        """This catalog with a stages.yaml's ``models:`` and ``pricing:`` applied."""
        aliases, entries, problems = dict(self.aliases), dict(self.models), []
        for model_id, change in models.items():
            merged = _merge_model(entries.get(model_id), change)
            if isinstance(merged, str):
                problems.append(Override(("models", model_id), merged, _NEW_MODEL_HINT))
                continue
            entries[model_id] = merged
            aliases.update(dict.fromkeys(change.aliases, model_id))
        for name, price in pricing.items():
            model_id = aliases.get(name, name)
            if model_id not in entries:
                problems.append(Override(("pricing", name), f"`{name}` is not in the catalog",
                                         "price a known alias or id, or add it under models:"))
                continue
            entry = entries[model_id]
            new_price = entry.price.model_copy(update=price.model_dump(exclude_none=True))
            entries[model_id] = entry.model_copy(update={"price": new_price})
        return Catalog(aliases, entries), problems


_NEW_MODEL_HINT = "a new model needs provider, context_window, max_output_tokens and price"


def _merge_model(base: ModelEntry | None, change: ModelOverride) -> ModelEntry | str:
    fields = change.model_dump(exclude_none=True, exclude={"aliases", "price"})
    if base is not None:
        price = base.price.model_dump()
        if change.price:
            price.update(change.price.model_dump(exclude_none=True))
        return base.model_copy(update={**fields, "price": base.price.model_validate(price)})
    data: dict[str, Any] = dict(fields)
    if change.price:
        data["price"] = change.price.model_dump(exclude_none=True)
    try:
        return ModelEntry.model_validate(data)
    except ValidationError as exc:
        missing = sorted({str(e["loc"][-1]) for e in exc.errors() if e["type"] == "missing"})
        return ("not in the catalog and incomplete: missing " + ", ".join(missing) if missing
                else f"not a usable model entry: {exc.errors()[0]['msg']}")


@cache
def packaged_catalog() -> Catalog:
    """The catalog shipped in the package (parsed once per process)."""
    text = resources.files("harness.config").joinpath("catalog.yaml").read_text("utf-8")
    try:
        parsed = CatalogFile.model_validate(YAML(typ="safe").load(text))
    except ValidationError as exc:
        raise CatalogError(f"harness/config/catalog.yaml is malformed: {exc}") from None
    dangling = sorted(a for a, m in parsed.aliases.items() if m not in parsed.models)
    if dangling:
        raise CatalogError(f"harness/config/catalog.yaml: aliases {dangling} name no model")
    return Catalog(parsed.aliases, parsed.models)
