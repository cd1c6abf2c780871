"""Model exchanges as JSON: how a run directory's ``llm/`` records them and how the replay vendor
reads them back. One module for both directions, so a recording always replays."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from harness.vendors.common import redact_data
from harness.vendors.types import ModelRequest, ModelResponse, ToolCall, Usage

# The parts of a request that must match for a replay to be the same conversation.
COMPARED = ("model_id", "control", "system", "messages", "tools", "output_schema")
# Decimal numbers differ between two runs of the same conversation (test timings in feedback).
_VOLATILE = re.compile(r"\d+\.\d+")


def request_record(request: ModelRequest) -> dict[str, Any]:
    settings = request.settings
    return {
        "model_id": settings.model_id,
        "control": str(settings.control) if settings.control else None,
        "max_output_tokens": settings.max_output_tokens,
        "system": request.system,
        "messages": [dataclasses.asdict(m) for m in request.messages],
        "tools": [dataclasses.asdict(t) for t in request.tools],
        "output_schema": request.output_schema,
        "seconds_left": round(request.remaining(), 3),
    }


def response_record(response: ModelResponse) -> dict[str, Any]:
    record = dataclasses.asdict(response)
    record.pop("workspace")  # the exchange keeps it beside the response, for errors too
    return record


def response_from_record(data: Mapping[str, Any]) -> ModelResponse:
    calls = tuple(ToolCall(c["id"], c["name"], c["arguments"], c.get("vendor_state"))
                  for c in data.get("tool_calls") or ())
    return ModelResponse(
        data["text"], calls, data["stop_reason"], Usage(**data["usage"]),
        float(data["cost_usd"]), float(data["latency_s"]), data["model_id"],
        data.get("request_id"), data.get("raw_stop_reason"),
        tuple(data.get("vendor_state") or ()))


def first_difference(recorded: Any, current: Any, path: str = "") -> str | None:
    """Where two JSON values first differ, as ``path: recorded … / now …``; None if equal."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        for key in sorted(set(recorded) | set(current)):
            found = first_difference(recorded.get(key), current.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(recorded, list) and isinstance(current, list):
        for i, (a, b) in enumerate(zip(recorded, current, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(recorded) != len(current):
            return f"{path}: {len(recorded)} items recorded, {len(current)} now"
        return None
    if recorded != current:
        return f"{path}: recorded {_short(recorded)}, now {_short(current)}"
    return None


def comparable(request_data: Mapping[str, Any]) -> dict[str, Any]:
    """The compared parts, redacted the way the recording was, timings masked."""
    picked = redact_data({k: request_data.get(k) for k in COMPARED})
    text = _VOLATILE.sub("<n>", json.dumps(picked, default=str))
    result: dict[str, Any] = json.loads(text)
    return result


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
