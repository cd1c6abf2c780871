"""The one exception tree. Every error the harness raises on purpose is a ``HarnessError``; leaves
also subclass the built-in that best describes them so callers can catch either.

A failed model call is a ``VendorError``; that branch of the tree lives in
``harness.vendors.errors``, beside the ``Usage`` its errors carry (what a failed call spent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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
    """The run must stop now: a cap was crossed. ``status`` is the run's final status."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class RepoMapError(HarnessError, RuntimeError):
    """The repository map could not read the commit (no git, not a repository, a missing
    object) or use its cache."""


class PathOutsideWorkspaceError(HarnessError, PermissionError):
    """A file tool was asked for a path that leaves the workspace."""


class InstanceError(TicketError):
    """An evaluation instance (a SWE-bench-style row) that cannot be read, or whose repository
    cannot be found."""
