"""Refusal rules that need the catalog and the vendors: which vendor, which model, which
vendor-native options, which routes. They read the raw document, so a structural error in one
key of a stage does not hide a problem in another: all problems are reported at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from harness.config.catalog import Catalog
from harness.config.diagnostics import Diagnostic, Path, did_you_mean
from harness.config.schema import (
    ANY_STAGE,
    REPO_MAP_KEY,
    REPO_MAP_ROLES,
    ROLES,
    ROUTING_KEYS,
    ROUTING_ROLES,
    ModelEntry,
)
from harness.config.yamlsource import Document
from harness.errors import UnknownVendorError
from harness.vendors import Vendor, get_vendor, vendor_names


@dataclass(frozen=True)
class Rung:
    """What one attempt level (the stage itself, or its on_retry) names, once inherited."""

    vendor: Vendor | None
    model: str | None
    options: dict[str, Any]


def semantic_diagnostics(doc: Document, catalog: Catalog) -> list[Diagnostic]:
    return _Rules(doc, catalog).run()


@dataclass
class _Rules:
    doc: Document
    catalog: Catalog
    out: list[Diagnostic] = field(default_factory=list)

    def run(self) -> list[Diagnostic]:
        configured = [r for r in ROLES if isinstance(self.doc.data.get(r), dict)]
        for role in configured:
            raw = self.doc.data[role]
            base = self.rung((role,), raw, parent=None)
            on_retry = raw.get("on_retry")
            if isinstance(on_retry, dict):
                self.rung((role, "on_retry"), on_retry, parent=base)
                if raw.get("retry_budget", 0) == 0:
                    self.warn((role, "on_retry"), "never applies: retry_budget is 0 (the "
                              "default), so there is no retry", "set retry_budget: 1 or more, "
                              "or remove on_retry")
            if isinstance(raw.get("fallback"), dict):
                self.fallback(role, raw, raw["fallback"], base)
            self.routes(role, raw, configured)
            if REPO_MAP_KEY in raw and role not in REPO_MAP_ROLES:
                self.error((role, REPO_MAP_KEY), f"only the {' and '.join(REPO_MAP_ROLES)} "
                           "gets the repository map in its prompt (the Coder has the "
                           "`repo_map` tool)", "remove this key", key=True)
        return self.out

    def error(self, path: Path, message: str, hint: str, *, key: bool = False) -> None:
        self.out.append(self.doc.diag(path, message, hint, key=key))

    def warn(self, path: Path, message: str, hint: str) -> None:
        self.out.append(self.doc.diag(path, message, hint, key=True, warning=True))

    def rung(self, path: Path, raw: dict[str, Any], parent: Rung | None) -> Rung:
        """Check one level; on_retry inherits what it does not name, except that switching
        vendor drops the old vendor's model and options."""
        switching = parent is not None and "vendor" in raw and (
            parent.vendor is None or raw["vendor"] != parent.vendor.name)
        inherited = parent if parent is not None and not switching else Rung(None, None, {})
        vendor = self.vendor((*path, "vendor"), raw["vendor"]) if "vendor" in raw else (
            parent.vendor if parent else None)
        model = raw.get("model", inherited.model)
        options = raw.get("vendor_options", inherited.options)
        if switching and "model" not in raw and parent is not None and parent.vendor:
            self.error((*path, "vendor"), f"switches to {raw['vendor']} but names no model",
                       f"`{parent.model}` belongs to {parent.vendor.name}: add on_retry.model")
        if vendor is not None and vendor.surface == "cli" and "vendor" in raw:
            self.sandboxed(path, vendor)
        if vendor is None or not isinstance(model, str):
            return Rung(vendor, None, {})
        resolved = self.model((*path, "model"), model, vendor, written="model" in raw)
        if isinstance(options, dict) and ("vendor_options" in raw or "model" in raw):
            self.options(path, raw, options, vendor, resolved)
        self.max_output(path, raw.get("max_output_tokens"), resolved)
        return Rung(vendor, model, options if isinstance(options, dict) else {})

    def sandboxed(self, path: Path, vendor: Vendor) -> None:
        """A CLI runs in the container, whose only way out is the egress proxy (to its API and
        the stage's MCP servers given by URL)."""
        sandbox = self.doc.data.get("sandbox")
        network = sandbox.get("network") if isinstance(sandbox, dict) else None
        if network == "none":
            self.error((*path, "vendor"), f"{vendor.name} runs in the container and reaches its "
                       "API through the egress proxy, which sandbox.network: none forbids",
                       "set sandbox.network: cli-only (the default), or use an SDK vendor")

    def fallback(self, role: str, raw: dict[str, Any], fb: dict[str, Any],
                 primary: Rung) -> None:
        """The fallback is checked like a stage of its own (vendor, model, options), and must
        be an SDK vendor other than the primary, under an SDK stage: it answers turns of the
        tool loop on the host, where its key stays."""
        path = (role, "fallback")
        if primary.vendor is not None and primary.vendor.surface == "cli":
            self.error(path, f"{primary.vendor.name} runs a whole attempt as one session in the "
                       "container; a fallback serves an SDK stage's turns", "switch vendor on "
                       "the next attempt instead: on_retry: {vendor: ..., model: ...}", key=True)
            return
        vendor = self.vendor((*path, "vendor"), fb["vendor"]) if "vendor" in fb else None
        if vendor is None:
            return
        if vendor.surface == "cli":
            sdk = [n for n in vendor_names() if get_vendor(n).surface == "sdk"
                   and get_vendor(n).provider is not None]
            self.error((*path, "vendor"), f"{vendor.name} runs a whole attempt in the container; "
                       "the fallback answers turns of the stage's tool loop on the host",
                       "use an SDK vendor: " + ", ".join(sdk))
            return
        if not isinstance(fb.get("model"), str):
            return
        resolved = self.model((*path, "model"), fb["model"], vendor, written=True)
        if isinstance(fb.get("vendor_options", {}), dict):
            self.options(path, fb, fb.get("vendor_options", {}), vendor, resolved)
        own = self.catalog.resolve(primary.model) if primary.model else None
        if (resolved and own and primary.vendor is not None and own[0] == resolved[0]
                and primary.vendor.name == vendor.name and vendor.provider is not None
                and fb.get("base_url") == raw.get("base_url")):
            self.error((*path, "model"), f"the fallback is the stage's own vendor and model "
                       f"({vendor.name}, {resolved[0]}): it would fail with it",
                       "name another vendor (or model, or base_url) for the fallback")

    def vendor(self, path: Path, name: object) -> Vendor | None:
        if not isinstance(name, str):
            return None  # the structural check reports the type
        try:
            return get_vendor(name)
        except UnknownVendorError:
            self.error(path, f"unknown vendor `{name}`",
                       did_you_mean(name, vendor_names(), listing="vendors are"))
            return None

    def model(self, path: Path, model: str, vendor: Vendor, *, written: bool
              ) -> tuple[str, ModelEntry] | None:
        """The model's id and entry when ``vendor`` serves it. Problems are reported where the
        model is written, and not for a name that ``models:`` declares (reported there)."""
        found = self.catalog.resolve(model)
        if found is not None and vendor.provider in (None, found[1].provider):
            problem = vendor.model_problem(found[0])
            if problem is not None and written:
                self.error(path, problem.message, problem.hint)
            return found
        if not written or model in (self.doc.data.get("models") or {}):
            return None
        aliases = [n for n in self.catalog.names(vendor.provider) if n in self.catalog.aliases]
        if found is None:
            hint = did_you_mean(model, self.catalog.names(vendor.provider), listing="")
            hint = hint if hint.startswith("did") else "aliases are: " + ", ".join(aliases)
            self.error(path, f"unknown model `{model}`",
                       hint + " (or add it under `models:` with its price)")
        else:
            self.error(path, f"`{model}` is a {found[1].provider} model; {vendor.name} serves "
                       f"{vendor.provider} models", "use one of: " + ", ".join(aliases))
        return None

    def options(self, path: Path, raw: dict[str, Any], options: dict[str, Any], vendor: Vendor,
                resolved: tuple[str, ModelEntry] | None) -> None:
        """Options written here are checked against the vendor and the model; inherited ones
        only against a model that on_retry changed (reported at that model)."""
        written = "vendor_options" in raw
        where = (*path, "vendor_options")
        try:
            parsed = vendor.options.model_validate(options)
        except ValidationError as exc:
            if written:
                for e in exc.errors():
                    self.option_error(where, vendor, e["loc"], e["type"], e["msg"])
            return
        if resolved is None:
            return
        for p in vendor.option_problems(*resolved, parsed):
            if written:
                self.error((*where, p.key), p.message, p.hint)
            else:
                self.error((*path, "model"), f"vendor_options.{p.key}: {p.message}", p.hint)

    def option_error(self, path: Path, vendor: Vendor, loc: tuple[Any, ...], kind: str,
                     msg: str) -> None:
        key = str(loc[0]) if loc else ""
        if kind != "extra_forbidden":
            self.error((*path, *loc), msg[0].lower() + msg[1:], "")
            return
        owners = [n for n in vendor_names() if n != vendor.name and key in get_vendor(n).controls()]
        if not owners:
            self.error((*path, key), f"{vendor.name} has no option `{key}`",
                       did_you_mean(key, vendor.controls(), listing=f"{vendor.name} options are"),
                       key=True)
            return
        concept = get_vendor(owners[0]).concept_of(key)
        same = vendor.equivalents(concept) if concept else []
        hint = (f"{vendor.name}'s equivalents: " + ", ".join(same) if same
                else f"{vendor.name} has no equivalent control")
        self.error((*path, key), f"`{key}` is a {'/'.join(owners)} control; {vendor.name} has "
                   f"no `{key}`", hint, key=True)

    def max_output(self, path: Path, value: object, resolved: tuple[str, ModelEntry] | None
                   ) -> None:
        if resolved and isinstance(value, int) and value > resolved[1].max_output_tokens:
            limit = resolved[1].max_output_tokens
            self.error((*path, "max_output_tokens"), f"{value} is more than {resolved[0]} can "
                       f"produce ({limit})", f"use at most {limit}")

    def routes(self, role: str, raw: dict[str, Any], configured: list[str]) -> None:
        for key in ROUTING_KEYS:
            if key not in raw:
                continue
            if role not in ROUTING_ROLES:
                self.error((role, key), f"only the {' and '.join(ROUTING_ROLES)} attaches to "
                           "stages and routes fixes", "remove this key", key=True)
                continue
            names = raw[key]
            if names == ANY_STAGE or not isinstance(names, list):
                continue
            for i, name in enumerate(names):
                self.route((role, key, i), role, name, configured)

    def route(self, path: Path, role: str, name: object, configured: list[str]) -> None:
        if not isinstance(name, str):
            return
        if name not in ROLES:
            self.error(path, f"unknown stage `{name}`",
                       did_you_mean(name, ROLES, listing="stages are"))
        elif name == role:
            self.error(path, f"the {role} cannot name itself",
                       "list the other stages it watches or routes fixes to")
        elif name not in configured:
            self.error(path, f"`{name}` is not configured in this file",
                       f"add a `{name}:` stage or drop it from the list")
