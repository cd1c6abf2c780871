"""``harness gc``: remove what dead runs left behind — containers, worktrees, dangling images.

A run is dead when no process holds its lease (see ``lease``). Live runs are never touched, so gc
is safe to run at the start of every command and while a batch is running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from harness.sandbox.docker_sandbox import LABEL_RUN_DIR
from harness.sandbox.image import HASH_LABEL
from harness.sandbox.lease import is_alive
from harness.sandbox.workspace import WORKSPACE_DIR, discard


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
        try:
            client.api.remove_container(summary["Id"], force=True)
            done.containers.append(str(summary["Id"])[:12])
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: another gc is removing it right now
                raise
        worktree = run_dir / WORKSPACE_DIR
        if worktree.exists():
            discard(worktree)
            done.worktrees.append(str(worktree))
    try:
        pruned = client.images.prune(filters={"dangling": True, "label": HASH_LABEL})
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: another prune (a batch worker's) is running
            raise
        return done
    done.images = [d["Deleted"] for d in pruned.get("ImagesDeleted") or [] if "Deleted" in d]
    return done

