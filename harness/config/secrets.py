"""Secrets an MCP server needs, by reference: ``env: {TOKEN: ${MY_TOKEN}}`` names the variable
that holds the value, resolved when the server starts. The value itself is never in the stages
file, run.json, a CLI's argv or any file the harness writes; a literal value (discouraged) is
treated as a secret too: masked in every record."""

from __future__ import annotations

import re
from collections.abc import Mapping

from harness.errors import MissingSecretError

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "[redacted]"


def reference_problem(value: str) -> str | None:
    """Why ``value`` is not a well-formed env value (a ``${`` that is not ``${NAME}``)."""
    if "${" in REFERENCE.sub("", value):
        return (f"`{value}`: a reference is `${{NAME}}`, NAME made of letters, digits and _ "
                "(not starting with a digit)")
    return None


def references(env: Mapping[str, str]) -> list[str]:
    """The variables ``env``'s values refer to, in order, once each."""
    return list(dict.fromkeys(n for v in env.values() for n in REFERENCE.findall(v)))


def resolve(env: Mapping[str, str], environ: Mapping[str, str], *, where: str) -> dict[str, str]:
    """``env`` with every ``${NAME}`` replaced by ``environ[NAME]``."""
    missing = [n for n in references(env) if n not in environ]
    if missing:
        raise MissingSecretError(f"{where}: env refers to {', '.join(missing)}, which "
                                 f"{'is' if len(missing) == 1 else 'are'} not set — export "
                                 f"{' and '.join(missing)} before the run")
    return {k: REFERENCE.sub(lambda m: environ[m.group(1)], v) for k, v in env.items()}


def masked(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as records show it: references as written, literal values masked."""
    return {k: v if REFERENCE.fullmatch(v) else MASK for k, v in env.items()}
