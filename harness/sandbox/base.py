"""The sandbox boundary: what the pipeline may ask of a ticket's isolated workspace.

A failed command is a value (``ExecResult`` with a non-zero exit code, ``timed_out`` or
``oom_killed``); a broken sandbox is an exception (``SandboxError``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType

from harness.vendors.types import EgressLink, EgressRoute

WORKDIR = "/workspace"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    oom_killed: bool = False
    duration: float = 0.0
    truncated: int = 0  # characters cut from the middle of stdout and stderr together
    quota_exceeded: bool = False  # stopped: the checkout grew past sandbox.workspace_quota

    @property
    def ok(self) -> bool:
        return (self.exit_code == 0 and not self.timed_out and not self.oom_killed
                and not self.quota_exceeded)

    def summary(self) -> str:
        """One line for logs and feedback: how the command ended."""
        if self.timed_out:
            how = "timed out (process group killed)"
        elif self.oom_killed:
            how = "killed: out of memory"
        elif self.quota_exceeded:
            how = "stopped: the checkout grew past sandbox.workspace_quota"
        else:
            how = f"exit {self.exit_code}"
        cut = f", {self.truncated} chars of output cut" if self.truncated else ""
        return f"{how} after {self.duration:.1f}s{cut}"


@dataclass(frozen=True)
class SearchHit:
    path: str
    line: int  # 0 for a files-only search
    text: str
    context: bool = False  # a line around a match, not a match


class Sandbox(ABC):
    """One ticket's workspace, isolated from the host.

    Every method raises ``SandboxError`` when the sandbox itself is broken, and
    ``PathOutsideWorkspaceError`` for a path that leaves the workspace. File methods raise
    ``FileNotFoundError`` / ``IsADirectoryError`` as the built-ins do, and ``edit_file`` raises
    ``ValueError`` when ``old`` is not found exactly once.
    """

    @abstractmethod
    def exec(self, cmd: str | Sequence[str], *, timeout: float | None = None,
             env: Mapping[str, str] | None = None, workdir: str = WORKDIR) -> ExecResult:
        """Run ``cmd`` (a shell string, or an argv list run without a shell)."""

    @abstractmethod
    def read_file(self, path: str) -> str: ...

    @abstractmethod
    def write_file(self, path: str, content: str) -> None: ...

    @abstractmethod
    def edit_file(self, path: str, old: str, new: str) -> None:
        """Replace the one exact occurrence of ``old`` with ``new``."""

    @abstractmethod
    def read_bytes(self, path: str) -> bytes:
        """A regular file's bytes; ValueError when it is over the file tools' read limit."""

    @abstractmethod
    def write_bytes(self, path: str, data: bytes) -> None:
        """Create or overwrite a regular file (parent directories made as needed)."""

    @abstractmethod
    def remove_file(self, path: str) -> None:
        """Delete a regular file (FileNotFoundError when there is none)."""

    @abstractmethod
    def list_files(self, path: str = ".", *, limit: int = 2000) -> list[str]:
        """Files under ``path`` (relative to the workspace), skipping VCS and dependency dirs."""

    @abstractmethod
    def search(self, pattern: str, path: str = ".", *, limit: int = 200,
               glob: str | None = None, context: int = 0,
               files_only: bool = False) -> list[SearchHit]:
        """Lines matching the regular expression ``pattern``, sorted by path and line, the
        first ``limit`` of them: in files matching ``glob`` only, with ``context`` lines
        around each match, or only the matching files (``line`` 0)."""

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def changed_files(self) -> list[str]:
        """Workspace paths changed against the base commit (added and deleted included)."""

    @abstractmethod
    def diff(self) -> str:
        """The workspace's changes against the base commit, as a git patch."""

    @abstractmethod
    def reset(self) -> None:
        """Discard every change against the base commit (ignored files, e.g. builds, stay)."""

    @abstractmethod
    def egress(self, route: EgressRoute) -> AbstractContextManager[EgressLink]:
        """The one way out of the sandbox, for the duration of the block: commands run inside
        reach ``route``'s API at the link's ``base_url`` through a proxy on the host that sets
        the credential (which never enters the sandbox) and meters every exchange. Raises
        ``SandboxError`` when the sandbox's network policy forbids it."""

    @abstractmethod
    def close(self) -> None:
        """Remove the container and the workspace; safe to call twice."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
