"""Stages: each stage's config checked against the catalog and vendors, and its attempt ladder."""

from harness.stages.load import RunPlan, load_plan
from harness.stages.plan import Attempt, Fallback, StagePlan

__all__ = ["Attempt", "Fallback", "RunPlan", "StagePlan", "load_plan"]
