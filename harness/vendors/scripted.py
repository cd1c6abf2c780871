"""The ``scripted`` vendor: deterministic replies for tests, demos and users' own tests.

A stage names its script in ``vendor_options.script``: either a name registered with
``register_script`` or an importable ``module:attribute``. A script is a list of replies (served
in order, then an error) or a callable ``(request) -> reply``. The model is any catalog model:
usage is estimated from the text (about four characters a token) unless a reply states it, and
priced at that model's catalog price, so budgets, caps and the cost display behave as they
would on the real vendor.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, ClassVar

from harness.config.schema import ModelEntry, Tier
from harness.vendors.base import Vendor
from harness.vendors.errors import VendorError, VendorTimeoutError
from harness.vendors.types import (
    CommandRunner,
    ModelRequest,
    ModelResponse,
    NativeControl,
    OptionProblem,
    StopReason,
    ToolCall,
    Usage,
    VendorOptions,
    concept,
)

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Reply:
    """One scripted answer: text, tool calls as ``(name, arguments)``, optional usage."""

    text: str = ""
    tool_calls: Sequence[tuple[str, Mapping[str, Any]]] = ()
    usage: Usage | None = None
    delay: float = 0.0  # seconds to "think"; a delay past the deadline is a timeout
    error: VendorError | None = None  # raised instead of answering
    stop_reason: StopReason | None = None


ScriptFn = Callable[[ModelRequest], Reply]
Script = Sequence[Reply] | ScriptFn


@dataclass
class _Cursor:
    replies: Sequence[Reply]
    position: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, name: str) -> Reply:
        with self.lock:
            if self.position >= len(self.replies):
                raise VendorError("scripted", f"script `{name}` has no reply left (it had "
                                  f"{len(self.replies)}); add replies or use a callable")
            self.position += 1
            return self.replies[self.position - 1]


_REGISTERED: dict[str, Script] = {}
_CURSORS: dict[str, _Cursor] = {}


def register_script(name: str, script: Script) -> None:
    """Make ``script`` available as ``vendor_options: {script: <name>}``; a list starts over."""
    _REGISTERED[name] = script
    _CURSORS.pop(name, None)


class ScriptedOptions(VendorOptions):
    script: str | None = concept(
        "script", "a registered script name or module:attribute (a list of replies or a "
        "callable(request) -> Reply)")


class ScriptedVendor(Vendor):
    name = "scripted"
    provider = None  # imitates any catalog model
    surface = "sdk"
    summary = "deterministic scripted replies (tests, demos); priced as the named model"
    prompt_caching = False
    default_api_key_env = "HARNESS_SCRIPTED_KEY"  # never read: a script needs no key
    options: ClassVar[type[VendorOptions]] = ScriptedOptions

    def compute_control(self, model: ModelEntry, tier: Tier, options: VendorOptions,
                        max_output_tokens: int) -> NativeControl | None:
        return NativeControl("tier", tier)  # a script can read the tier from its request

    def option_problems(self, model_id: str, model: ModelEntry,
                        options: VendorOptions) -> list[OptionProblem]:
        assert isinstance(options, ScriptedOptions)
        if options.script is None:
            return [OptionProblem("script", "a scripted stage needs a script",
                                  "set vendor_options: {script: module:attribute}")]
        return []

    def complete(self, request: ModelRequest, *, runner: CommandRunner | None = None
                 ) -> ModelResponse:
        options = request.settings.options
        assert isinstance(options, ScriptedOptions)
        name = options.script or ""
        started = time.monotonic()
        reply = _reply(name, request)
        if reply.delay:
            time.sleep(min(reply.delay, request.remaining()))
            if request.remaining() <= 0:
                raise VendorTimeoutError(self.name, f"script `{name}` ran past the deadline")
        if reply.error is not None:
            raise reply.error
        calls = tuple(ToolCall(f"call_{i}_{int(started * 1000) % 100000}", n, dict(a))
                      for i, (n, a) in enumerate(reply.tool_calls))
        usage = reply.usage or _estimate(request, reply)
        stop: StopReason = reply.stop_reason or ("tool_use" if calls else "end_turn")
        return ModelResponse(reply.text, calls, stop, usage,
                             usage.cost(request.settings.entry.price),
                             time.monotonic() - started, request.settings.model_id)


def _reply(name: str, request: ModelRequest) -> Reply:
    script = _script(name)
    if callable(script):
        return script(request)
    cursor = _CURSORS.setdefault(name, _Cursor(script))
    return cursor.next(name)


def _script(name: str) -> Script:
    if name in _REGISTERED:
        return _REGISTERED[name]
    module_name, sep, attr = name.partition(":")
    if not sep:
        raise VendorError("scripted", f"no script registered as `{name}` — register it with "
                          "harness.vendors.scripted.register_script or name module:attribute")
    try:
        found: Script = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise VendorError("scripted", f"cannot load script `{name}`: {exc}") from None
    _REGISTERED[name] = found
    return found


def _estimate(request: ModelRequest, reply: Reply) -> Usage:
    sent = len(request.system) + sum(
        len(m.text) + sum(len(r.content) for r in m.tool_results)
        + sum(len(json.dumps(c.arguments)) for c in m.tool_calls) for m in request.messages)
    sent += sum(len(t.description) + len(json.dumps(t.input_schema)) for t in request.tools)
    out = len(reply.text) + sum(len(json.dumps(a)) for _, a in reply.tool_calls)
    return Usage(input_tokens=sent // CHARS_PER_TOKEN + 1, output_tokens=out // CHARS_PER_TOKEN + 1)
