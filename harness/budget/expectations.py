"""Per-stage token expectations for the pre-run cost model (defaults until run history exists)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from pydantic import Field, ValidationError
from ruamel.yaml import YAML

from harness.config.schema import Frozen, Tier
from harness.errors import CatalogError


class RoleTokens(Frozen):
    input: int = Field(ge=0)
    output: int = Field(ge=0)
    cached_prefix: float = Field(ge=0, le=1)  # of input: read from or written to the cache
    retry_context: int = Field(ge=0)
    # Of input, written to the cache (None: the package default for the stage).
    cache_write: float | None = Field(None, ge=0, le=1)


class Expectations(Frozen):
    roles: dict[str, RoleTokens]
    thinking_for_tier: dict[Tier, int]
    source: str = "package defaults (harness/budget/expectations.yaml)"


@cache
def default_expectations() -> Expectations:
    text = resources.files("harness.budget").joinpath("expectations.yaml").read_text("utf-8")
    try:
        return Expectations.model_validate(YAML(typ="safe").load(text))
    except ValidationError as exc:
        raise CatalogError(f"harness/budget/expectations.yaml is malformed: {exc}") from None
