"""A machine as a node of a harness Ray cluster, without importing Ray: what ``harness worker
start`` checks before it joins, and where a node keeps its cache and scratch runs."""

from __future__ import annotations

import os
from pathlib import Path

import docker

from harness.config.schema import SandboxConfig
from harness.errors import EngineUnavailableError
from harness.sandbox.engine import connect
from harness.sandbox.image import BuiltImage, Progress, sandbox_image

SLOT = "harness_slot"  # the custom resource: one per ticket a node may run at once
WORK_DIR_ENV = "HARNESS_WORKER_DIR"


def work_dir() -> Path:
    """The node's cache (repos/, configs/) and scratch runs (runs/)."""
    # The node's own setting, from the environment `ray start` was given (not library config).
    configured = os.environ.get(WORK_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "harness" / "worker"


def node_engine() -> docker.DockerClient:
    """This machine's Docker engine; a node without one must not join (its tickets would all
    fail, and Ray would keep sending it more)."""
    try:
        return connect()
    except EngineUnavailableError as exc:
        raise EngineUnavailableError(f"this machine cannot run tickets, so it does not join "
                                     f"the cluster: {exc}") from None


def node_image(client: docker.DockerClient, cfg: SandboxConfig, config_dir: Path,
               image_tar: Path | None, progress: Progress) -> BuiltImage:
    """The sandbox image on this node: loaded from ``image_tar`` (`docker save` of another
    node's), then built only if its inputs differ (a no-op when the load matched)."""
    if image_tar is not None:
        with image_tar.open("rb") as f:
            for image in client.images.load(f):
                progress(f"loaded {', '.join(image.tags) or image.short_id}")
    return sandbox_image(client, cfg, config_dir=config_dir, progress=progress)
