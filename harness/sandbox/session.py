"""``ticket_sandbox``: everything one ticket needs, acquired in order and released in reverse —
the run's lease, images, worktree, container — whether the block ends, raises, or the process
gets SIGINT/SIGTERM. A kill -9 skips all of it; ``harness gc`` then cleans up."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import docker

from harness.config.schema import SandboxConfig
from harness.sandbox.docker_sandbox import DockerSandbox, Identity, Network, container_user
from harness.sandbox.gc import collect_garbage
from harness.sandbox.image import Progress, dependency_image, sandbox_image
from harness.sandbox.lease import Lease
from harness.sandbox.workspace import WORKSPACE_DIR, create_workspace, remove_workspace


@dataclass(frozen=True)
class TicketSpec:
    repo: Path
    run_dir: Path
    run_id: str
    ticket: str
    base: str = "HEAD"
    include_uncommitted: bool = False
    network: Network = "none"


@contextmanager
def ticket_sandbox(client: docker.DockerClient, cfg: SandboxConfig, spec: TicketSpec, *,
                   config_dir: Path, progress: Progress) -> Iterator[DockerSandbox]:
    with Lease(spec.run_dir), _sigterm_as_exit():
        collect_garbage(client)
        base_image = sandbox_image(client, cfg, config_dir=config_dir, progress=progress)
        owner = container_user() if _host_is_root() else None
        ws = create_workspace(spec.repo, spec.run_dir / WORKSPACE_DIR, base=spec.base,
                              include_uncommitted=spec.include_uncommitted, owner=owner)
        try:
            image = dependency_image(client, base_image, ws.path, cfg, progress)
            sandbox = DockerSandbox.start(
                client, image.id, ws, cfg,
                Identity(spec.run_id, spec.ticket, str(spec.run_dir.resolve())),
                network=spec.network)
        except BaseException:
            remove_workspace(ws)
            raise
        with sandbox:
            yield sandbox


def _host_is_root() -> bool:
    return os.getuid() == 0


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit so the with-blocks above release what they hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
