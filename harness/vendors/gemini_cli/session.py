"""A gemini-cli session's private directory in the container: its HOME (settings.json, the
system text as GEMINI.md) and prompt, written there by exec before the CLI starts. Nothing the
session starts outlives its exec; the directory goes when the next session is staged."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from harness.vendors import cli_session

# Under /tmp and never /workspace: /workspace is the host's run directory.
SESSION_ROOT = "/tmp/harness-gemini"


@dataclass(frozen=True)
class Session:
    """One call's private directory in the container."""

    dir: str
    token: str

    @classmethod
    def new(cls) -> Session:
        token = uuid.uuid4().hex
        return cls(f"{SESSION_ROOT}-{token[:12]}", token)

    @property
    def home(self) -> str:
        return f"{self.dir}/home"

    @property
    def prompt(self) -> str:
        return f"{self.dir}/prompt.md"

    @property
    def settings(self) -> str:
        return f"{self.home}/.gemini/settings.json"

    def files(self, settings: Mapping[str, Any], system: str, prompt: str) -> dict[str, str]:
        files = {self.settings: json.dumps(settings, indent=1), self.prompt: prompt}
        if system:  # the global context file, loaded into the CLI's system instruction
            files[f"{self.home}/.gemini/GEMINI.md"] = system
        return files


SUBDIRS = ("home/.gemini", "tmp")


def stage_commands(session: Session, files: Mapping[str, str]) -> Iterator[list[str]]:
    """The execs that create the session directory and write ``files`` (path -> text)."""
    return cli_session.stage_commands(session.dir, SUBDIRS, files)
