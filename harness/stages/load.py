"""Load stages.yaml into a ``RunPlan``: parse, check every rule, and build each stage's ladder.

``load_plan`` is the one entry point. It touches no network and constructs no vendor client; a
refused config raises ``ConfigError`` carrying every problem found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from harness.config.catalog import Catalog, packaged_catalog
from harness.config.diagnostics import Diagnostic, Severity
from harness.config.schema import EXTENSION_PREFIX, ModelOverride, PriceOverride, StagesFile
from harness.config.structure import structural_diagnostics
from harness.config.yamlsource import Document, read_document
from harness.errors import ConfigError
from harness.stages.plan import StagePlan, plan_stage
from harness.stages.rules import semantic_diagnostics


@dataclass(frozen=True)
class RunPlan:
    """A checked stages.yaml: the typed config, its catalog and every stage's attempt ladder."""

    file: str
    config: StagesFile
    catalog: Catalog
    stages: dict[str, StagePlan]
    warnings: tuple[Diagnostic, ...]


def load_plan(path: Path, *, shown_as: str | None = None) -> RunPlan:
    """Check ``path`` and plan every stage; raise ``ConfigError`` listing all problems."""
    doc = read_document(path, shown_as=shown_as)
    catalog, diags = _catalog(doc)
    config: StagesFile | None = None
    try:
        config = StagesFile.model_validate(
            {k: v for k, v in doc.data.items() if not k.startswith(EXTENSION_PREFIX)})
    except ValidationError as exc:
        diags += structural_diagnostics(doc, exc)
    diags += semantic_diagnostics(doc, catalog)
    diags.sort(key=lambda d: (d.line, d.col))
    if config is None or any(d.severity is Severity.ERROR for d in diags):
        raise ConfigError(diags)
    configured = list(config.stages)
    plans = {role: plan_stage(role, stage, catalog, configured)
             for role, stage in config.stages.items()}
    warnings = [*diags, *_ladder_warnings(doc, plans)]
    return RunPlan(doc.file, config, catalog, plans, tuple(warnings))


def _catalog(doc: Document) -> tuple[Catalog, list[Diagnostic]]:
    """The packaged catalog with this file's ``models:`` and ``pricing:`` applied. Entries that
    do not parse are skipped here: the structural check reports them."""
    models, pricing = {}, {}
    for name, raw in _section(doc, "models").items():
        try:
            models[name] = ModelOverride.model_validate(raw)
        except ValidationError:
            continue
    for name, raw in _section(doc, "pricing").items():
        try:
            pricing[name] = PriceOverride.model_validate(raw)
        except ValidationError:
            continue
    catalog, problems = packaged_catalog().with_overrides(models, pricing)
    return catalog, [doc.diag(p.path, p.message, p.hint, key=True) for p in problems]


def _section(doc: Document, name: str) -> dict[str, object]:
    value = doc.data.get(name)
    return value if isinstance(value, dict) else {}


def _ladder_warnings(doc: Document, plans: dict[str, StagePlan]) -> list[Diagnostic]:
    out = []
    for role, plan in plans.items():
        first, retries = plan.attempts[0], plan.attempts[1:]
        on_retry = plan.config.on_retry
        escalates = on_retry is not None and on_retry.compute is not None
        if first.control is None and ("compute" in doc.data[role] or escalates):
            out.append(doc.diag((role, "compute"), f"{first.model_id} on {first.vendor.name} has "
                                "no reasoning control, so compute tiers change nothing",
                                "pick a model with effort or thinking controls, or drop compute",
                                warning=True))
        elif escalates and retries and all(a.same_backend(first) for a in retries):
            out.append(doc.diag((role, "on_retry", "compute"), "escalation changes nothing: "
                                f"every retry sends {first.control} to {first.model_id}",
                                "unpin vendor_options, or escalate with on_retry.model",
                                warning=True))
        out += _fallback_warnings(doc, role, plan)
    return out


def _fallback_warnings(doc: Document, role: str, plan: StagePlan) -> list[Diagnostic]:
    """An effort the fallback cannot send: the model has no reasoning control, or not that
    level (it then sends the next one it has). Warnings: the fallback still serves."""
    fb = plan.config.fallback
    pairs = [(a, a.fallback.attempt) for a in plan.attempts if a.fallback is not None]
    if fb is None or not pairs:
        return []
    where = (role, "fallback", "effort" if fb.effort else "model")
    backup = pairs[0][1]
    if backup.control is None:
        if fb.effort is None and all(a.control is None for a, _ in pairs):
            return []
        wanted = f"effort `{fb.effort}`" if fb.effort else "the stage's compute (" + ", ".join(
            dict.fromkeys(a.tier for a, _ in pairs)) + ")"
        return [doc.diag(where, f"{backup.model_id} has no reasoning control: {wanted} "
                         "changes nothing on the fallback's turns", "pick a fallback model "
                         "with effort or thinking controls, or drop effort", warning=True)]
    out = []
    for tier, control in dict.fromkeys((b.tier, b.control) for _, b in pairs):
        if control is None or control.pinned or not isinstance(control.value, str):
            continue
        if tier not in ("max", control.value):
            out.append(doc.diag(where, f"{backup.model_id} has no `{tier}` level: the "
                                f"fallback sends {control} instead", "set fallback.effort to "
                                "a level it has", warning=True))
    return out
