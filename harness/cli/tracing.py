"""Whether a run is traced: the OpenTelemetry variables are read here, at the edge, and nowhere
else (docs/telemetry.md). Unset, nothing of OpenTelemetry is imported and nothing is sent."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

# Either names where spans go: the first as a base URL (+ /v1/traces), the second as is.
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def enabled(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


@contextmanager
def run_tracer(environ: Mapping[str, str]) -> Iterator[Tracer | None]:
    """A tracer exporting over OTLP/HTTP while the block runs (every span sent when it ends),
    or None when no endpoint is set."""
    if not enabled(environ):
        yield None
        return
    from harness.runs.telemetry import otlp_tracing  # noqa: PLC0415 - OpenTelemetry loads now
    with otlp_tracing() as tracer:
        yield tracer
