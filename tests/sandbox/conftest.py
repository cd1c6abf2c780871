"""Fixtures for the sandbox conformance suite: a real Docker engine (a missing engine fails the
run, it never skips), the sandbox image built once per session, and small git repositories."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from harness.config.schema import SandboxConfig
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.engine import connect
from harness.sandbox.image import BuiltImage, sandbox_image
from harness.sandbox.session import TicketSpec, ticket_sandbox

ROOT = Path(__file__).resolve().parents[2]
CFG = SandboxConfig(memory="512m", pids_limit=128, exec_timeout="60s")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout


def make_repo(path: Path, files: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.invalid")
    git(path, "config", "user.name", "t")
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")
    return path


@pytest.fixture(scope="session")
def client() -> docker.DockerClient:
    return connect()  # EngineUnavailableError fails every test here: no skip


@pytest.fixture(scope="session")
def image(client: docker.DockerClient) -> BuiltImage:
    return sandbox_image(client, CFG, config_dir=ROOT, progress=lambda _: None)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {
        "src/app.js": 'exports.greet = (n) => "hello " + n;\n',
        "test/app.test.js": ('const {test} = require("node:test");\n'
                             'const assert = require("node:assert");\n'
                             'const {greet} = require("../src/app");\n'
                             'test("greets", () => assert.strictEqual(greet("x"), "hello x"));\n'),
        ".gitignore": "dist/\n",
    })


@pytest.fixture
def open_sandbox(client: docker.DockerClient, image: BuiltImage, tmp_path: Path
                 ) -> Iterator[Callable[..., DockerSandbox]]:
    """Start sandboxes on a repo; every one is closed at the end of the test."""
    stack: list[object] = []

    def _open(repo: Path, cfg: SandboxConfig = CFG, **kw: object) -> DockerSandbox:
        run_id = uuid.uuid4().hex[:8]
        spec = TicketSpec(repo=repo, run_dir=tmp_path / f"run-{run_id}", run_id=run_id,
                          ticket="T-1", **kw)  # type: ignore[arg-type]
        cm = ticket_sandbox(client, cfg, spec, config_dir=ROOT, progress=lambda _: None)
        sandbox = cm.__enter__()
        stack.append(cm)
        return sandbox

    yield _open
    for cm in reversed(stack):
        cm.__exit__(None, None, None)  # type: ignore[attr-defined]


@pytest.fixture
def sandbox(open_sandbox: Callable[..., DockerSandbox], repo: Path) -> DockerSandbox:
    """A sandbox on the default ``repo``."""
    return open_sandbox(repo)
