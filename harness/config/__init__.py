"""Config: stages.yaml parsed once, at the edge, into frozen pydantic models."""

from harness.config.catalog import Catalog, packaged_catalog
from harness.config.diagnostics import Diagnostic, Severity
from harness.config.schema import StageConfig, StagesFile

__all__ = ["Catalog", "Diagnostic", "Severity", "StageConfig", "StagesFile", "packaged_catalog"]
