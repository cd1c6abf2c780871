"""The model-call branch of the one exception tree (``harness.errors``): a failed call is a
``VendorError``, whose leaves say how it failed and whether a retry may help. Each carries what
the failed call still spent, so the run's meter counts it."""

from __future__ import annotations

from harness.errors import HarnessError
from harness.vendors.types import Usage


class VendorError(HarnessError):
    """A model call failed. ``vendor`` names the backend; the vendor's own message is kept.

    ``spent`` and ``cost_usd``: what the failed call still consumed, when the vendor could tell
    (a CLI session that ended in an error reports its usage), so the run's meter counts it."""

    retryable = False

    def __init__(self, vendor: str, message: str) -> None:
        super().__init__(f"{vendor}: {message}")
        self.vendor = vendor
        self.spent: Usage | None = None
        self.cost_usd = 0.0
        # A replayed CLI session's workspace (see ModelResponse.workspace), put back even when
        # the session failed.
        self.workspace: str | None = None


class VendorAuthError(VendorError, PermissionError):
    """401/403: the key is missing or refused. Never retried."""


class RateLimitedError(VendorError):
    """429 after the retries that fit in the deadline."""

    retryable = True


class TransientVendorError(VendorError, ConnectionError):
    """5xx, overloaded, or the connection failed, after the retries that fit in the deadline."""

    retryable = True


class VendorTimeoutError(VendorError, TimeoutError):
    """The stage's deadline passed before the vendor answered."""


class ContextTooLongError(VendorError, ValueError):
    """The prompt does not fit the model's context window."""


class RefusalError(VendorError):
    """The model refused or a safety filter stopped the answer."""


class TruncatedError(VendorError):
    """The answer was cut at max_tokens where a complete one was required."""


class MalformedResponseError(VendorError, ValueError):
    """The vendor answered something that is not its documented format."""


class CliCrashError(VendorError, RuntimeError):
    """A vendor CLI exited abnormally without a parseable result."""
