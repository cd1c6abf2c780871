"""``harness gc``: remove what dead runs left behind — containers, worktrees, build containers,
dangling images.

A run (or an image build) is dead when no process holds its lease (see ``lease``). Live ones are
never touched, so gc is safe to run at the start of every command, while a batch is running and
while another worktree builds an image on the same engine:

- a build in progress has no intermediate image to lose (``build.run_build`` commits once), and
  ``docker build``'s own intermediates are in use by the step's container or, between steps,
  younger than ``IMAGE_GRACE``;
- every image harness builds keeps a tag (its own, or its hash tag), so an image another run is
  about to use is never dangling. What is dangling is a failed build's leftover, or an image
  someone untagged by hand, and only once it is older than ``IMAGE_GRACE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from harness.sandbox.build import BUILD_LABEL, HASH_LABEL
from harness.sandbox.docker_sandbox import LABEL_RUN_DIR
from harness.sandbox.lease import is_alive
from harness.sandbox.workspace import WORKSPACE_DIR, discard

IMAGE_GRACE = "1h"


@dataclass
class Collected:
    containers: list[str] = field(default_factory=list)
    worktrees: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"removed {len(self.containers)} containers, {len(self.worktrees)} worktrees, "
                f"{len(self.images)} dangling images")


def collect_garbage(client: docker.DockerClient) -> Collected:
    done = Collected()
    # The listing's own summaries, not containers.list(): that inspects each container after
    # listing, and a run ending meanwhile (another worker's) would make the inspect fail.
    for summary in client.api.containers(all=True, filters={"label": LABEL_RUN_DIR}):
        labels = summary.get("Labels") or {}
        run_dir = Path(labels[LABEL_RUN_DIR])
        if is_alive(run_dir):
            continue
        _remove(client, summary["Id"], done)
        worktree = run_dir / WORKSPACE_DIR
        if worktree.exists():
            discard(worktree)
            done.worktrees.append(str(worktree))
    for summary in client.api.containers(all=True, filters={"label": BUILD_LABEL}):
        holder = (summary.get("Labels") or {}).get(BUILD_LABEL)
        if holder and not is_alive(Path(holder)):
            _remove(client, summary["Id"], done)
    try:
        pruned = client.images.prune(filters={"dangling": True, "label": HASH_LABEL,
                                              "until": IMAGE_GRACE})
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: another prune (a batch worker's) is running
            raise
        return done
    done.images = [d["Deleted"] for d in pruned.get("ImagesDeleted") or [] if "Deleted" in d]
    return done


def _remove(client: docker.DockerClient, container_id: str, done: Collected) -> None:
    try:
        client.api.remove_container(container_id, force=True)
        done.containers.append(str(container_id)[:12])
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: another gc is removing it right now
            raise
