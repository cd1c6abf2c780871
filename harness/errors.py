"""The one exception tree. Every error the harness raises on purpose is a ``HarnessError``; leaves
also subclass the built-in that best describes them so callers can catch either."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.config.diagnostics import Diagnostic


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class ConfigError(HarnessError, ValueError):
    """stages.yaml (or a file it depends on) was refused.

    Carries every problem found, so a user fixes them in one pass instead of one per run.
    """

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class CatalogError(HarnessError, ValueError):
    """The packaged model catalog or cost defaults are malformed: a packaging bug, not input."""


class UnknownVendorError(HarnessError, KeyError):
    """A vendor name that no registered vendor module answers to."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class SandboxError(HarnessError, RuntimeError):
    """The sandbox itself is broken (engine unreachable, container gone, image build failed).

    A command that fails inside a healthy sandbox is not an error: it is an ``ExecResult``.
    """


class EngineUnavailableError(SandboxError):
    """No Docker engine answers."""


class ImageBuildError(SandboxError):
    """An image (sandbox base, or a repo's dependency layer) failed to build."""


class WorkspaceError(HarnessError, ValueError):
    """The repository or ref cannot be turned into a ticket workspace."""


class MissingSecretError(HarnessError, ValueError):
    """A stages file refers (``${NAME}``) to an environment variable that is not set."""


class TicketError(HarnessError, ValueError):
    """A ticket file that cannot be read as a ticket."""


class RunStopped(HarnessError):
    """The run must stop now: a cap was crossed. ``status`` is the run's final status;
    ``partial`` is the outcome of the attempt it interrupted (for the run record)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.partial: Any = None


class RepoMapError(HarnessError, RuntimeError):
    """The repository map could not read the commit (no git, not a repository, a missing
    object) or use its cache."""


class PathOutsideWorkspaceError(HarnessError, PermissionError):
    """A file tool was asked for a path that leaves the workspace."""


class VendorError(HarnessError):
    """A model call failed. ``vendor`` names the backend; the vendor's own message is kept.

    ``spent`` and ``cost_usd``: what the failed call still consumed, when the vendor could tell
    (a CLI session that ended in an error reports its usage), so the run's meter counts it.
    ``spent`` is a ``harness.vendors.types.Usage``; typed loosely to keep this module a leaf."""

    retryable = False

    def __init__(self, vendor: str, message: str) -> None:
        super().__init__(f"{vendor}: {message}")
        self.vendor = vendor
        self.spent: Any = None
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
