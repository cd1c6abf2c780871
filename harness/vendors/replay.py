"""The ``replay`` vendor: answers from the exchanges recorded in a run directory's ``llm/``.

Each stage replays its own exchanges in their recorded order (a stage is known by its system
prompt), so a run with every stage on ``replay`` repeats the recorded run without a network or a
key. A request that is not the recorded one stops the run with ``ReplayDivergedError`` naming
the exchange file and the first difference: a replay that went elsewhere proves nothing.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from harness import errors
from harness.config.schema import ModelEntry, Tier
from harness.errors import HarnessError, VendorError
from harness.vendors.base import NativeControl, Vendor, VendorOptions
from harness.vendors.transcript import (
    comparable,
    first_difference,
    request_record,
    response_from_record,
)
from harness.vendors.types import CommandRunner, ModelRequest, ModelResponse


class ReplayDivergedError(HarnessError, AssertionError):
    """The run asked something the recording did not: it is no longer the recorded run."""


class ReplayOptions(VendorOptions):
    run_dir: str | None = Field(None, description="The run directory whose llm/ is replayed.",
                                json_schema_extra={"concept": "replay"})


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


class ReplayVendor(Vendor):
    name = "replay"
    provider = None  # replays whatever model was recorded
    surface = "sdk"
    summary = "answers from a run directory's recorded exchanges (no network, no key)"
    prompt_caching = False
    default_api_key_env = "HARNESS_REPLAY_KEY"  # never read
    options: ClassVar[type[VendorOptions]] = ReplayOptions

    def __init__(self) -> None:
        self._recordings: dict[Path, _Recording] = {}
        self._lock = threading.Lock()

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        return NativeControl("tier", tier)

    def start(self, run_dir: Path) -> None:
        """Serve ``run_dir`` from its first exchange again."""
        with self._lock:
            self._recordings.pop(run_dir.resolve(), None)

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        options = request.settings.options
        assert isinstance(options, ReplayOptions)
        recording = self._recording(options.run_dir)
        path, data = recording.next_for(request.system)
        diff = first_difference(comparable(data["request"]), comparable(request_record(request)))
        if diff is not None:
            raise ReplayDivergedError(f"replay diverged from {path}: request{diff}")
        if data.get("error"):
            raise _recorded_error(data)
        return response_from_record(data["response"])

    def _recording(self, run_dir: str | None) -> _Recording:
        if not run_dir:
            raise VendorError(self.name, "vendor_options.run_dir is required: the run "
                              "directory to replay")
        root = Path(run_dir).expanduser().resolve()
        with self._lock:
            if root not in self._recordings:
                files = sorted((root / "llm").glob("*.json"))
                if not files:
                    raise VendorError(self.name, f"{root}/llm has no recorded exchanges")
                self._recordings[root] = _Recording(files)
            return self._recordings[root]


def _recorded_error(data: dict[str, Any]) -> VendorError:
    cls = getattr(errors, str(data.get("error_type") or "VendorError"), VendorError)
    if not (isinstance(cls, type) and issubclass(cls, VendorError)):
        cls = VendorError
    message = str(data["error"])
    vendor, sep, rest = message.partition(": ")
    return cls(vendor, rest) if sep else cls("replay", message)
