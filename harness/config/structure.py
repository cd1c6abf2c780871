"""Turn pydantic's validation errors on stages.yaml into located, fix-it diagnostics."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness.config.diagnostics import Diagnostic, Path, did_you_mean
from harness.config.schema import EXTENSION_PREFIX, REQUIRED_ROLES, ROLES, StagesFile
from harness.config.yamlsource import Document


def structural_diagnostics(doc: Document, exc: ValidationError) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    seen: set[tuple[Path, str]] = set()
    for err in exc.errors():
        path = tuple(err["loc"])
        if (path, err["type"]) in seen:
            continue
        seen.add((path, err["type"]))
        out.append(_one(doc, path, err))
    return out


def _one(doc: Document, path: Path, err: ErrorDetails) -> Diagnostic:
    kind, ctx = err["type"], err.get("ctx") or {}
    name = str(path[-1]) if path else ""
    if kind == "missing":
        return _missing(doc, path)
    if kind == "extra_forbidden":
        return _unknown_key(doc, path)
    if kind == "literal_error":
        return doc.diag(path, f"`{err['input']}` is not a valid {name}",
                        "use one of: " + str(ctx.get("expected", "")).replace("'", ""))
    if kind in {"duration", "stage_ref"}:
        return doc.diag(path, str(ctx["message"]), str(ctx["hint"]))
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return doc.diag(path, f"`{err['input']}` is not a whole number", "write an integer")
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return doc.diag(path, f"must be a mapping, not `{err['input']}`",
                        f"write `{name}:` followed by indented `key: value` lines")
    if kind == "string_pattern_mismatch" and name.endswith("api_key_env"):
        return doc.diag(path, f"`{err['input']}` is not an environment variable name",
                        "name the variable that holds the key, e.g. ANTHROPIC_API_KEY — "
                        "never the key itself")
    return doc.diag(path, err["msg"][0].lower() + err["msg"][1:], "")


def _missing(doc: Document, path: Path) -> Diagnostic:
    name = str(path[-1])
    if len(path) == 1 and name in ROLES:
        need = " and ".join(REQUIRED_ROLES)
        return doc.diag(path, "stage missing", f"the pipeline needs {need}: add a `{name}:` entry")
    if name == "timeout":
        return doc.diag(path, "no timeout", "every stage declares its own timeout (no default, "
                        "none inherited): add e.g. `timeout: 120s`")
    return doc.diag(path, "required key missing", f"add `{name}: ...`")


def _unknown_key(doc: Document, path: Path) -> Diagnostic:
    name = str(path[-1])
    valid = fields_at(path[:-1])
    if len(path) == 1:
        hint = did_you_mean(name, valid, listing="stages are " + ", ".join(ROLES) +
                            "; run-wide keys are")
        if "did you mean" not in hint:
            hint = ("stages are " + ", ".join(ROLES) + "; run-wide keys are "
                    + ", ".join(k for k in valid if k not in ROLES)
                    + f"; keys starting with {EXTENSION_PREFIX} are ignored (for YAML anchors)")
        return doc.diag(path, f"unknown stage or key `{name}`", hint, key=True)
    return doc.diag(path, f"unknown key `{name}`", did_you_mean(name, valid), key=True)


def fields_at(path: Path) -> list[str]:
    """The keys valid at ``path`` in stages.yaml (dict levels are skipped through)."""
    model: Any = StagesFile
    for part in path:
        if isinstance(model, type) and issubclass(model, BaseModel):
            field = model.model_fields.get(str(part))
            model = _unwrap(field.annotation) if field else None
        elif get_origin(model) is dict:
            model = _unwrap(get_args(model)[1])
        else:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation
