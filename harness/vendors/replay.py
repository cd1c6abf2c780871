"""The ``replay`` vendors: answers from the exchanges recorded in a run directory's ``llm/``.

Each stage replays its own exchanges in their recorded order (a stage is known by its system
prompt), so a run with every stage on ``replay`` repeats the recorded run without a network or a
key. A request that is not the recorded one stops the run with ``ReplayDivergedError`` naming
the exchange file and the first difference: a replay that went elsewhere proves nothing.

A stage recorded on a real vendor replays with that vendor's native control (``recorded_vendor``
and its ``recorded_options``), so the request is the recorded one. ``replay`` stands in for SDK
vendors (the harness runs the tools); ``replay-cli`` for CLI vendors, whose CLI changed the
workspace itself: it hands back the workspace the session left (``ModelResponse.workspace``),
which the pipeline puts in place.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from harness.config.schema import ModelEntry, Tier
from harness.errors import HarnessError
from harness.vendors import errors
from harness.vendors.base import Vendor
from harness.vendors.errors import VendorError
from harness.vendors.transcript import (
    comparable,
    first_difference,
    request_record,
    response_from_record,
)
from harness.vendors.types import (
    CommandRunner,
    ModelRequest,
    ModelResponse,
    NativeControl,
    Usage,
    VendorOptions,
)


class ReplayDivergedError(HarnessError, AssertionError):
    """The run asked something the recording did not: it is no longer the recorded run."""


class ReplayOptions(VendorOptions):
    run_dir: str | None = Field(None, description="The run directory whose llm/ is replayed.",
                                json_schema_extra={"concept": "replay"})
    recorded_vendor: str | None = Field(
        None, description="The vendor the run was recorded on: its native control is sent.")
    recorded_options: dict[str, Any] | None = Field(
        None, description="That vendor's vendor_options, as the run had them.")


@dataclass
class _Recording:
    files: list[Path]
    served: dict[str, int] = field(default_factory=dict)  # system prompt -> exchanges used
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_for(self, system: str) -> tuple[Path, dict[str, Any]]:
        with self.lock:
            skip = self.served.get(system, 0)
            for path in self.files:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data["request"]["system"] != system:
                    continue
                if skip == 0:
                    self.served[system] = self.served.get(system, 0) + 1
                    return path, data
                skip -= 1
        raise ReplayDivergedError(f"replay: no recorded exchange left for this stage (system "
                                  f"prompt starting {system[:60]!r}) — the run made more calls "
                                  "than the recording")


# One registry for both surfaces: a stage whose attempts switch surface (claude-cli, then
# anthropic on retry) replays one sequence of exchanges.
_RECORDINGS: dict[Path, _Recording] = {}
_LOCK = threading.Lock()


class ReplayVendor(Vendor):
    name = "replay"
    provider = None  # replays whatever model was recorded
    surface: ClassVar[Literal["sdk", "cli"]] = "sdk"
    summary = "answers from a run directory's recorded exchanges (no network, no key)"
    prompt_caching = False
    default_api_key_env = "HARNESS_REPLAY_KEY"  # never read
    options: ClassVar[type[VendorOptions]] = ReplayOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        assert isinstance(options, ReplayOptions)
        if not options.recorded_vendor:
            return NativeControl("tier", tier)
        from harness.vendors.registry import get_vendor  # noqa: PLC0415 - registry imports us

        recorded = get_vendor(options.recorded_vendor)
        own = recorded.options.model_validate(options.recorded_options or {})
        return recorded.compute_control(model, tier, own, max_output_tokens)

    def start(self, run_dir: Path) -> None:
        """Serve ``run_dir`` from its first exchange again."""
        with _LOCK:
            _RECORDINGS.pop(run_dir.resolve(), None)

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        _, data = self._recorded(request)
        if data.get("error"):
            raise _recorded_error(data)
        return response_from_record(data["response"])

    def _recorded(self, request: ModelRequest) -> tuple[Path, dict[str, Any]]:
        """The recorded exchange this request must be, or ``ReplayDivergedError``."""
        options = request.settings.options
        assert isinstance(options, ReplayOptions)
        recording = self._recording(options.run_dir)
        path, data = recording.next_for(request.system)
        diff = first_difference(comparable(data["request"]), comparable(request_record(request)))
        if diff is not None:
            raise ReplayDivergedError(f"replay diverged from {path}: request{diff}")
        return path, data

    def _recording(self, run_dir: str | None) -> _Recording:
        if not run_dir:
            raise VendorError(self.name, "vendor_options.run_dir is required: the run "
                              "directory to replay")
        root = Path(run_dir).expanduser().resolve()
        with _LOCK:
            if root not in _RECORDINGS:
                files = sorted((root / "llm").glob("*.json"))
                if not files:
                    raise VendorError(self.name, f"{root}/llm has no recorded exchanges")
                _RECORDINGS[root] = _Recording(files)
            return _RECORDINGS[root]


class ReplayCliVendor(ReplayVendor):
    """A CLI vendor's recorded session: its answer, and the workspace it left."""

    name = "replay-cli"
    surface = "cli"
    summary = ("answers from a run directory's recorded CLI sessions and puts back the "
               "workspace each left (no network, no key)")

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        _, data = self._recorded(request)
        workspace = data.get("workspace")
        if data.get("error"):
            error = _recorded_error(data)
            error.workspace = workspace
            raise error
        return dataclasses.replace(response_from_record(data["response"]),
                                   workspace=workspace)


def _recorded_error(data: dict[str, Any]) -> VendorError:
    cls = getattr(errors, str(data.get("error_type") or "VendorError"), VendorError)
    if not (isinstance(cls, type) and issubclass(cls, VendorError)):
        cls = VendorError
    message = str(data["error"])
    vendor, sep, rest = message.partition(": ")
    error = cls(vendor, rest) if sep else cls("replay", message)
    if data.get("spent"):  # what the failed call consumed counts again, as it did then
        error.spent, error.cost_usd = Usage(**data["spent"]), float(data["spent_cost_usd"])
    return error
