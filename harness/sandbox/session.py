"""``ticket_sandbox``: everything one ticket needs, acquired in order and released in reverse —
the run's lease, images, worktree, container — whether the block ends, raises, or the process
gets SIGINT/SIGTERM. A kill -9 skips all of it; ``harness gc`` then cleans up."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType

import docker
import docker.errors

from harness.config.schema import SandboxConfig
from harness.errors import SandboxError
from harness.sandbox.docker_sandbox import (
    DockerSandbox,
    Identity,
    Network,
    container_user,
    run_container,
)
from harness.sandbox.egress import make_control_dir, remove_control_dir
from harness.sandbox.gc import collect_garbage
from harness.sandbox.image import BuiltImage, Progress, dependency_image, sandbox_image
from harness.sandbox.lease import Lease
from harness.sandbox.sources import Commit, SourceFiles
from harness.sandbox.workspace import (
    WORKSPACE_DIR,
    Workspace,
    create_workspace,
    discard,
    open_repo,
    remove_workspace,
    resolve_base,
)


@dataclass(frozen=True)
class TicketSpec:
    repo: Path
    run_dir: Path
    run_id: str
    ticket: str
    base: str = "HEAD"
    include_uncommitted: bool = False
    network: Network = "none"
    image: str | None = None  # run exactly this image (reproduce: the recorded one)


@contextmanager
def ticket_sandbox(client: docker.DockerClient, cfg: SandboxConfig, spec: TicketSpec, *,
                   config_dir: Path, progress: Progress) -> Iterator[DockerSandbox]:
    with Lease(spec.run_dir), _sigterm_as_exit():
        collect_garbage(client)
        base_image = (_pinned(client, spec.image) if spec.image else
                      sandbox_image(client, cfg, config_dir=config_dir, progress=progress))
        sandbox = _start(client, cfg, spec, base_image, progress)
        with sandbox:
            yield sandbox


def _start(client: docker.DockerClient, cfg: SandboxConfig, spec: TicketSpec,
           base_image: BuiltImage, progress: Progress) -> DockerSandbox:
    """Check the worktree out while the dependency image is resolved and the container starts:
    both read only the commit, so neither waits for the other. Dirty state
    (--include-uncommitted) may change the lockfile, so then the worktree comes first."""
    commit = resolve_base(open_repo(spec.repo), spec.base)
    dest = spec.run_dir / WORKSPACE_DIR
    who = Identity(spec.run_id, spec.ticket, str(spec.run_dir.resolve()))
    owner = container_user() if _host_is_root() else None
    make = partial(create_workspace, spec.repo, dest, base=commit,
                   include_uncommitted=spec.include_uncommitted, owner=owner,
                   max_file_size=cfg.max_file_size)
    if spec.include_uncommitted:
        ws = make()
        try:
            image = _deps(client, base_image, ws.path, cfg, spec=spec, progress=progress)
            return DockerSandbox.start(client, image.id, ws, cfg, who, network=spec.network)
        except BaseException:
            remove_workspace(ws)
            raise
    dest.mkdir(parents=True)  # the bind mount's source must exist before the checkout fills it
    control = make_control_dir(container_user())
    with ThreadPoolExecutor(1, thread_name_prefix="workspace") as pool:
        pending = pool.submit(make)
        try:
            image = _deps(client, base_image, Commit(spec.repo, commit), cfg, spec=spec,
                          progress=progress)
            container = run_container(client, image.id, dest, spec.repo, cfg, who=who,
                                      network=spec.network, control=control)
        except BaseException:
            _discard(pending, dest)
            remove_control_dir(control)
            raise
        try:
            ws = pending.result()
        except BaseException:
            container.remove(force=True)
            discard(dest)
            remove_control_dir(control)
            raise
    return DockerSandbox(client, container, ws, cfg, network=spec.network, control=control)


def _pinned(client: docker.DockerClient, image: str) -> BuiltImage:
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxError(f"image {image} is not in the local engine") from None
    return BuiltImage(image, str(found.id), reused=True)


def _deps(client: docker.DockerClient, base: BuiltImage, source: Path | SourceFiles,
          cfg: SandboxConfig, *, spec: TicketSpec, progress: Progress) -> BuiltImage:
    """The dependency image, unless the spec pins one."""
    return base if spec.image else dependency_image(client, base, source, cfg, progress)


def _discard(pending: Future[Workspace], dest: Path) -> None:
    try:
        remove_workspace(pending.result())
    except Exception:  # the checkout failed too; the first error is the one to report
        discard(dest)


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
