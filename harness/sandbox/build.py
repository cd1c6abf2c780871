"""Images made by running a script in a container and committing it: the toolchain and the
dependency layers. Unlike ``docker build``, the script runs under the ticket container's own
limits (cpus, memory, pids, every capability dropped, no new privileges), and no intermediate
image ever exists for a concurrent ``gc`` to take: the commit creates and tags the image at once.

A build container carries ``harness.build`` = a directory whose lease the building process holds;
``gc`` removes the container once that lease is gone (the process died mid-build)."""

from __future__ import annotations

import contextlib
import io
import tarfile
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import requests
from docker.models.containers import Container

from harness.config.schema import SandboxConfig
from harness.errors import ImageBuildError
from harness.sandbox.lease import Lease

Progress = Callable[[str], None]
HASH_LABEL = "harness.hash"
BUILD_LABEL = "harness.build"
TAIL_LINES = 40
PROXY_MOUNT = "/run/harness-install"  # a build's proxy directory (install_proxy.py)


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    id: str
    reused: bool
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Build:
    base: str  # image id
    tag: str  # repository:tag of the result
    key: str  # its harness.hash label
    script: str  # bash, run in the container as ``user``
    user: str  # uid:gid
    timeout: float
    files: IO[bytes] | None = None  # a tar extracted at / before the script starts
    labels: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)  # added to the image's ENV
    network: bool = True  # a build fetches from the package registry
    proxy_dir: Path | None = None  # then no network: only this directory's proxy, at PROXY_MOUNT
    record: str | None = None  # a JSON file the script writes: kept as the label record_label
    record_label: str = ""


def run_build(client: docker.DockerClient, build: Build, cfg: SandboxConfig,
              progress: Progress) -> BuiltImage:
    base = client.images.get(build.base).attrs.get("Config") or {}
    with tempfile.TemporaryDirectory(prefix="harness-build-") as holder, Lease(Path(holder)):
        container = _create(client, build, cfg, holder)
        try:
            if build.files is not None:
                container.put_archive("/", build.files)
            container.start()
            code, tail = _follow(container, build.timeout, progress)
            if code != 0:
                how = "timed out" if code is None else f"exited {code}"
                raise ImageBuildError(f"building {build.tag}: the script {how}:\n"
                                      + "\n".join(tail))
            extra = {build.record_label: _read(container, build.record)} if build.record else {}
            return _commit(container, build, base, extra)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ImageBuildError(f"building {build.tag} failed: {exc}") from None
        finally:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)


def _create(client: docker.DockerClient, build: Build, cfg: SandboxConfig,
            holder: str) -> Container:
    # The script's own variables are set inside it: a container's Env would end up in the image.
    network = "bridge" if build.network and build.proxy_dir is None else "none"
    return client.containers.create(
        build.base, ["bash", "-c", build.script], user=build.user, working_dir="/",
        labels={BUILD_LABEL: holder}, cap_drop=["ALL"], security_opt=["no-new-privileges"],
        nano_cpus=int(cfg.cpus * 1e9), mem_limit=cfg.memory, memswap_limit=cfg.memory,
        pids_limit=cfg.pids_limit, network_mode=network, init=True,
        volumes={str(build.proxy_dir): {"bind": PROXY_MOUNT, "mode": "ro"}}
        if build.proxy_dir else None)


def _follow(container: Container, timeout: float, progress: Progress
            ) -> tuple[int | None, list[str]]:
    """Stream the script's output until it exits; kill it at the deadline (exit code None)."""
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
            container.kill()

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    tail: list[str] = []
    pending = b""
    try:
        for chunk in container.logs(stream=True, follow=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip()
                tail = [*tail[-(TAIL_LINES - 1):], line]
                progress(line)
        status = container.wait()
    finally:
        timer.cancel()
    if pending:
        tail.append(pending.decode("utf-8", "replace").rstrip())
    return (None if expired.is_set() else int(status.get("StatusCode", 1))), tail


def _read(container: Container, path: str) -> str:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        data = tar.extractfile(member) if member is not None else None
        if data is None:
            raise ImageBuildError(f"the build left no {path}")
        return data.read().decode("utf-8", "replace").strip()


def _commit(container: Container, build: Build, base: dict[str, Any],
            extra: dict[str, str]) -> BuiltImage:
    env = [e for e in base.get("Env") or [] if e.split("=", 1)[0] not in build.env]
    env += [f"{k}={v}" for k, v in build.env.items()]
    # Labels and Env given here are merged with the container's, so the build label is blanked
    # and the base image's own config restored over what the build container was run with.
    labels = {**(base.get("Labels") or {}), BUILD_LABEL: "", **build.labels, **extra,
              HASH_LABEL: build.key}
    repository, _, tag = build.tag.rpartition(":")
    conf = {"Labels": labels, "Env": env, "Cmd": base.get("Cmd"), "User": base.get("User", ""),
            "WorkingDir": base.get("WorkingDir", ""), "Entrypoint": base.get("Entrypoint")}
    image = container.commit(repository=repository, tag=tag, conf=conf)
    return BuiltImage(build.tag, str(image.id), reused=False, labels=labels)
