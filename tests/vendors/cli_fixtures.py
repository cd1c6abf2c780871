"""Shared by the CLI vendor tests: the sandbox image with the pinned ``claude`` and ``gemini``
CLIs, and a sandbox on a tiny repository whose container has no network: the CLIs reach the
loopback servers (on the host's 127.0.0.1) only through the sandbox's egress proxy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.config.schema import SandboxConfig
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.engine import connect
from harness.sandbox.image import BuiltImage, sandbox_image
from harness.sandbox.session import TicketSpec, ticket_sandbox
from tests.sandbox.conftest import make_repo

ROOT = Path(__file__).resolve().parents[2]
MCP_STDIO_SERVER = Path(__file__).with_name("mcp_stdio_server.py")
CLI_CFG = SandboxConfig(image="harness-sandbox:clis", install_clis=True, memory="2g",
                        pids_limit=512, exec_timeout="120s")


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    return connect()  # a missing engine fails the run: never a skip


@pytest.fixture(scope="session")
def cli_image(docker_client: docker.DockerClient) -> BuiltImage:
    return sandbox_image(docker_client, CLI_CFG, config_dir=ROOT, progress=print)


@pytest.fixture
def cli_sandbox(docker_client: docker.DockerClient, cli_image: BuiltImage,
                tmp_path: Path) -> Iterator[DockerSandbox]:
    repo = make_repo(tmp_path / "repo", {
        "README.md": "# demo\n",
        "src/greet.js": 'exports.greet = (n) => "hello " + n;\n',
    })
    run_id = uuid.uuid4().hex[:8]
    spec = TicketSpec(repo=repo, run_dir=tmp_path / f"run-{run_id}", run_id=run_id,
                      ticket="T-CLI", network="proxy")
    with ticket_sandbox(docker_client, CLI_CFG, spec, config_dir=ROOT,
                        progress=lambda _: None) as sandbox:
        yield sandbox
