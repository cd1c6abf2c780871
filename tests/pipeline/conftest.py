"""End-to-end fixtures: a small JavaScript repository whose tests run offline in the real
sandbox, stages files written per test, and a ``run`` helper that checks the user's repository
is left exactly as it was."""

from __future__ import annotations

import hashlib
import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.fakes.anthropic_server import AnthropicHandler
from harness.fakes.gemini_server import GeminiHandler
from harness.fakes.loopback import LoopbackServer
from harness.runs.execute import RunRequest, RunResult, execute
from harness.sandbox.engine import connect
from tests.sandbox.conftest import git, make_repo

BUGGY = 'exports.slugify = (t) => t.toLowerCase().replace(/[^a-z0-9]+/g, "-");\n'
FIXED = ('exports.slugify = (t) =>\n'
         '  t.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");\n')
TEST = ('const { test } = require("node:test");\n'
        'const assert = require("node:assert");\n'
        'const { slugify } = require("../src/slug");\n'
        'test("joins words", () => assert.strictEqual(slugify("A b"), "a-b"));\n'
        'test("trims dashes", () => assert.strictEqual(slugify(" Hi, you! "), "hi-you"));\n')
TICKET = """\
id: T-1
title: slugify must trim dashes
body: slugify(" Hi, you! ") must be "hi-you".
fail_to_pass: [trims dashes]
"""
MANIFEST = {"summary": "fix slugify", "sub_tickets": [{
    "id": "S1", "title": "trim dashes in slugify", "files": ["src/slug.js"],
    "operations": [{"op": "modify", "path": "src/slug.js", "symbol": "slugify"}]}]}


@dataclass(frozen=True)
class Outcome:
    result: RunResult
    state: dict[str, Any]

    def outcomes(self, stage: str | None = None) -> list[str]:
        return [a["outcome"] for a in self.state["attempts"] if stage in (None, a["stage"])]


def tree_digest(repo: Path) -> str:
    """Every byte of the repository, .git included (index, refs, config)."""
    h = hashlib.sha256()
    for path in sorted(p for p in repo.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    return connect()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = make_repo(tmp_path / "repo", {
        "src/slug.js": 'exports.slugify = (t) => t.toLowerCase().replace(/ /g, "-");\n',
        "test/slug.test.js": TEST, "README.md": "# slugs\n"})
    (path / "notes.txt").write_text("uncommitted work of the user\n")  # must survive
    return path


@pytest.fixture
def run(tmp_path: Path, repo: Path, client: docker.DockerClient
        ) -> Callable[..., Outcome]:
    def _run(stages: str, *, ticket: str = TICKET, **request: Any) -> Outcome:
        config = tmp_path / "stages.yaml"
        config.write_text(textwrap.dedent(stages), encoding="utf-8")
        ticket_file = tmp_path / "ticket.yaml"
        ticket_file.write_text(ticket, encoding="utf-8")
        before = tree_digest(repo)
        result = execute(RunRequest(ticket_file, repo, config, tmp_path / "runs", **request),
                         client=client)
        assert tree_digest(repo) == before, "the user's repository changed"
        assert git(repo, "worktree", "list").count("\n") == 1, "a worktree was left behind"
        state = json.loads((result.run_dir / "run.json").read_text())
        return Outcome(result, state)

    return _run


def sandbox_section() -> str:
    return "sandbox:\n  test_command: node --test test/\n"


# The keys SDK runs are given; no file a run writes may hold them.
ANTHROPIC_KEY = "sk-ant-api03-" + "pipe" * 10
GOOGLE_KEY = "AIza" + "Pipe" * 9


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    """One Anthropic and one Gemini loopback server for a module (each shutdown waits out
    serve_forever's poll)."""
    import anthropic  # noqa: F401, PLC0415 - its first import would eat a short deadline
    import google.genai  # noqa: F401, PLC0415
    with LoopbackServer(AnthropicHandler) as ant, LoopbackServer(GeminiHandler) as goo:
        yield ant, goo


@pytest.fixture
def ant_goo(servers: tuple[LoopbackServer, LoopbackServer],
            monkeypatch: pytest.MonkeyPatch) -> tuple[LoopbackServer, LoopbackServer]:
    """The module's servers, fresh, with the keys in the environment."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", GOOGLE_KEY)
    for srv in servers:
        srv.reset()
    return servers
