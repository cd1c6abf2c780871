"""What every SDK vendor does the same way: find its key, retry transient faults inside the
stage's deadline, and keep secrets out of every message."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from harness.vendors.errors import (
    RateLimitedError,
    TransientVendorError,
    VendorAuthError,
    VendorError,
)
from harness.vendors.types import ModelRequest

T = TypeVar("T")
# Shaped like an Anthropic or Google key, starting a word (``risk-assessment`` holds no key).
# Other keys are scrubbed by value: every key ``api_key`` hands out, and every secret an MCP
# server's env names, is remembered (a generic "long token" pattern would also eat hashes and
# code).
_SECRET = re.compile(r"(?<![A-Za-z0-9_])(?:sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,})")
_KNOWN: set[str] = set()
_KNOWN_LOCK = threading.Lock()  # batch workers remember keys while others redact
MIN_SECRET_CHARS = 8
MIN_ATTEMPT_SECONDS = 0.5  # no point starting a call with less time than this
BACKOFF_START, BACKOFF_MAX = 0.5, 8.0
REDACTED = "[redacted]"


def redact(text: str) -> str:
    text = _SECRET.sub(REDACTED, text)
    with _KNOWN_LOCK:
        known = tuple(_KNOWN)
    for secret in known:
        text = text.replace(secret, REDACTED)
    return text


def redact_data(value: Any) -> Any:
    """``value`` (JSON-shaped: dicts, lists, strings, numbers) with every string redacted. Done
    before serialising, so a key right after an escaped newline is still found."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


def remember_secret(value: str) -> None:
    """Scrub ``value`` from everything the harness writes from now on (when it is long enough
    to be told apart from ordinary text)."""
    if len(value) >= MIN_SECRET_CHARS:
        with _KNOWN_LOCK:
            _KNOWN.add(value)


def api_key(vendor: str, env_name: str, *fallbacks: str) -> str:
    """The key from the env var the config names (or the vendor's standard ones)."""
    for name in (env_name, *fallbacks):
        value = os.environ.get(name)
        if value:
            remember_secret(value)
            return value
    names = " or ".join((env_name, *fallbacks))
    raise VendorAuthError(vendor, f"no API key: set {names} (or name another variable with "
                          "api_key_env in stages.yaml)")


class RetryAfter(Exception):
    """Raised by a vendor's call function for a fault worth retrying, with the server's hint."""

    def __init__(self, error: VendorError, after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.after = after


def within_deadline(request: ModelRequest, call: Callable[[float], T], *,
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``call(seconds_left)`` until it returns, retrying ``RetryAfter`` faults while the
    deadline allows (they do not consume the stage's retry budget) and ``request.retries``
    permits; then raise the last one. A rate limit's wait is queueing: it moves the deadline
    (``request.queueing``, within its budget) instead of using it up."""
    delay = BACKOFF_START
    tries = 0
    while True:
        left = request.remaining()
        try:
            return call(left)
        except RetryAfter as fault:
            wait = fault.after if fault.after is not None else delay
            tries += 1
            if request.retries is not None and tries > request.retries:
                raise fault.error from None
            queued = isinstance(fault.error, RateLimitedError) and request.queueing is not None \
                and request.queueing.absorb(wait)  # waiting for capacity, not working
            if not queued and request.remaining() - wait < MIN_ATTEMPT_SECONDS:
                raise fault.error from None
            sleep(wait)
            delay = min(delay * 2, BACKOFF_MAX)


__all__ = ["RateLimitedError", "RetryAfter", "TransientVendorError", "api_key", "redact",
           "redact_data", "remember_secret", "within_deadline"]
