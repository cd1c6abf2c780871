"""A claude-cli session's private directory in the container: its prompt and system prompt
files, written there by exec before the CLI starts, and its HOME, config and temp directories.
The watcher removes it when the session ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from harness.vendors import cli_session
from harness.vendors.cli_session import render_transcript
from harness.vendors.types import ModelRequest

# Under /tmp and never /workspace: /workspace is the host's run directory, and the CLI's config
# dir is where it could remember a key.
SESSION_ROOT = "/tmp/harness-claude"


@dataclass(frozen=True)
class Session:
    """One call's private directory in the container, removed by the watcher at the end."""

    dir: str
    marker: str

    @classmethod
    def new(cls) -> Session:
        token = uuid.uuid4().hex
        return cls(f"{SESSION_ROOT}-{token[:12]}", f"harness-claude-{token}")

    @property
    def prompt(self) -> str:
        return f"{self.dir}/prompt.txt"

    @property
    def system(self) -> str:
        return f"{self.dir}/system.txt"

    def files(self, request: ModelRequest) -> dict[str, str]:
        """The session's files (path -> text): the conversation as one prompt, and the system
        prompt the CLI appends to its own."""
        files = {self.prompt: render_transcript(request.messages)}
        if request.system:
            files[self.system] = request.system
        return files


SUBDIRS = ("home", "config", "tmp")


def stage_commands(session: Session, files: Mapping[str, str]) -> Iterator[list[str]]:
    """The execs that create the session directory and write ``files`` into it."""
    return cli_session.stage_commands(session.dir, SUBDIRS, files)
