"""Images: the sandbox image (built once per Dockerfile, helpers and CA bundle) and one
dependency image per repository lockfile, so a second ticket on the same lockfile installs
nothing."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from harness.config.schema import SandboxConfig
from harness.errors import ImageBuildError
from harness.sandbox.resources import bundled
from harness.sandbox.sources import Checkout, SourceFiles

Progress = Callable[[str], None]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HASH_LABEL = "harness.hash"
# The command that installs a repository's dependencies, by the lockfile it has.
INSTALLERS = {
    "package-lock.json": "npm ci --no-audit --no-fund",
    "npm-shrinkwrap.json": "npm ci --no-audit --no-fund",
    "pnpm-lock.yaml": "npx --yes pnpm@9 install --frozen-lockfile",
    "yarn.lock": "npx --yes yarn@1 install --frozen-lockfile",
}


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    id: str
    reused: bool


def extra_ca_bundle(setting: str, config_dir: Path) -> bytes:
    """The PEM the image must trust besides its own (empty: nothing extra)."""
    if setting == "none":
        return b""
    if setting == "auto":
        return HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.exists() else b""
    path = (config_dir / setting).expanduser()
    if not path.is_file():
        raise ImageBuildError(f"sandbox.extra_ca_certs: {path} is not a file — give a PEM "
                              "bundle, `auto` or `none`")
    return path.read_bytes()


def sandbox_image(client: docker.DockerClient, cfg: SandboxConfig, *, config_dir: Path,
                  progress: Progress) -> BuiltImage:
    """The sandbox image, built only when its inputs changed since the last build."""
    dockerfile = (config_dir / cfg.dockerfile) if cfg.dockerfile else bundled("Dockerfile.sandbox")
    helpers = bundled("sandbox")
    ca = extra_ca_bundle(cfg.extra_ca_certs, config_dir)
    args = {"BASE_IMAGE": cfg.base_image, "INSTALL_CLIS": "1" if cfg.install_clis else "0"}
    key = _digest([dockerfile.read_bytes(), ca, repr(sorted(args.items())).encode(),
                   *_tree_bytes(helpers)])
    found = _existing(client, cfg.image, key)
    if found:
        return found
    ensure_base_image(client, cfg.base_image, progress)
    with tempfile.TemporaryDirectory(prefix="harness-ctx-") as tmp:
        ctx = Path(tmp)
        shutil.copy(dockerfile, ctx / "Dockerfile")
        (ctx / "extra-ca-certs.crt").write_bytes(ca)
        shutil.copytree(helpers, ctx / "sandbox",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return _build(client, ctx, cfg.image, key, args=args, progress=progress)


def ensure_base_image(client: docker.DockerClient, tag: str, progress: Progress) -> None:
    """Make ``tag`` available: present, pulled, or bootstrapped with debootstrap."""
    try:
        client.images.get(tag)
        return
    except docker.errors.ImageNotFound:
        pass
    script = bundled("scripts/bootstrap-base-image.sh")
    progress(f"base image {tag} is missing: bootstrapping it ({script.name})")
    proc = subprocess.Popen(["bash", str(script), tag], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        progress(line.rstrip())
        tail = [*tail[-19:], line.rstrip()]
    if proc.wait() != 0:
        raise ImageBuildError(f"could not make base image {tag} available:\n" + "\n".join(tail))


def dependency_image(client: docker.DockerClient, sandbox: BuiltImage,
                     source: Path | SourceFiles, cfg: SandboxConfig,
                     progress: Progress) -> BuiltImage:
    """The sandbox image plus the repository's installed dependencies, keyed by the lockfile,
    the manifests and the sandbox image. Without a lockfile or setup_command: the sandbox image.
    ``source``: a checkout's root, or any ``SourceFiles`` (e.g. a ``Commit``)."""
    files = Checkout(source) if isinstance(source, Path) else source
    paths = files.paths()
    names = {p.name for p in paths if len(p.parts) == 1}
    setup = cfg.setup_command or next(
        (cmd for name, cmd in INSTALLERS.items() if name in names), None)
    if setup is None:
        return sandbox
    manifests = files.read_all(_manifests(paths))
    key = _digest([sandbox.id.encode(), setup.encode(),
                   *(p.encode() + b"\0" + data for p, data in manifests.items())])
    tag = f"harness-deps:{key[:20]}"
    found = _existing(client, tag, key)
    if found:
        progress(f"dependencies: reusing {tag} (same lockfile)")
        return found
    progress(f"dependencies: installing with `{setup}` into {tag}")
    with tempfile.TemporaryDirectory(prefix="harness-deps-") as tmp:
        ctx = Path(tmp)
        (ctx / "ws").mkdir()
        for rel, data in manifests.items():
            (ctx / "ws" / rel).parent.mkdir(parents=True, exist_ok=True)
            (ctx / "ws" / rel).write_bytes(data)
        (ctx / "Dockerfile").write_text(
            f"FROM {sandbox.id}\n"
            "COPY --chown=1000:1000 ws/ /workspace/\n"
            f"RUN cd /workspace && {setup}\n"
            "USER root\n"
            "RUN python3 /opt/harness/hoist_deps.py /workspace\n"
            "USER 1000:1000\n")
        return _build(client, ctx, tag, key, args={}, progress=progress)


def _manifests(paths: list[Path]) -> list[str]:
    """Lockfiles and package manifests at any depth, outside node_modules, sorted."""
    names = {"package.json", *INSTALLERS}
    return sorted(str(p) for p in paths
                  if p.name in names and "node_modules" not in p.parts and ".git" not in p.parts)


def _existing(client: docker.DockerClient, tag: str, key: str) -> BuiltImage | None:
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    labels = image.labels or {}
    if labels.get(HASH_LABEL) != key:
        return None
    return BuiltImage(tag, str(image.id), reused=True)


def _build(client: docker.DockerClient, ctx: Path, tag: str, key: str, *, args: dict[str, str],
           progress: Progress) -> BuiltImage:
    log: list[str] = []
    stream: Iterator[dict[str, Any]] = client.api.build(
        path=str(ctx), dockerfile="Dockerfile", tag=tag, buildargs=args, rm=True, forcerm=True,
        labels={HASH_LABEL: key}, decode=True)
    for chunk in stream:
        if "error" in chunk:
            raise ImageBuildError(f"building {tag} failed: {chunk['error'].strip()}\n"
                                  + "\n".join(log[-30:]))
        text = str(chunk.get("stream", "")).rstrip()
        if text:
            log.append(text)
            progress(text)
    image = client.images.get(tag)
    return BuiltImage(tag, str(image.id), reused=False)


def _tree_bytes(root: Path) -> Iterator[bytes]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield str(path.relative_to(root)).encode() + b"\0" + path.read_bytes()


def _digest(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()
