"""Images, each labelled with the hash of its inputs (``harness.hash``) and reused whenever an
image with that label exists, under any tag or none:

- the sandbox image (Dockerfile, helpers, CA bundle), built with ``docker build``;
- a toolchain image per (sandbox image, Node, package manager): the repository's own Node and
  package manager (``toolchain.py`` decides which);
- a dependency image per (toolchain image, manifests, lockfiles, package-manager settings): the
  repository's installed dependencies under /deps, so a second ticket on the same lockfile
  installs nothing.

The last two are made by ``build.run_build``: a script in a container with the ticket's limits.
Besides its own tag, each image is tagged with its hash, so moving a shared tag (another worktree
building ``harness-sandbox:latest`` from another Dockerfile) never leaves it dangling."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors

from harness.config.schema import SandboxConfig
from harness.errors import ImageBuildError
from harness.sandbox.build import HASH_LABEL, Build, BuiltImage, Progress, run_build
from harness.sandbox.deps_context import install_context
from harness.sandbox.docker_sandbox import container_user
from harness.sandbox.install_proxy import (
    SCRIPT_PREFIX,
    engine_networks,
    image_registries,
    repo_registries,
    serve,
)
from harness.sandbox.resources import bundled
from harness.sandbox.sources import SourceFiles, snapshot
from harness.sandbox.toolchain import Repo, Toolchain, detect

__all__ = ["HASH_LABEL", "BuiltImage", "Progress", "dependency_image", "sandbox_image",
           "toolchain_image"]

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TOOLCHAIN_LABEL = "harness.toolchain"  # the exact versions installed, as JSON
DEPS_LABEL = "harness.deps"  # what was detected, as JSON
TOOLCHAIN_RECORD = "/opt/harness-toolchain.json"
TOOLCHAIN_ENV = {"COREPACK_HOME": "/opt/corepack", "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
                 "COREPACK_ENABLE_AUTO_PIN": "0", "COREPACK_ENABLE_STRICT": "0",
                 "COREPACK_ENABLE_NETWORK": "0"}
# Caches and homes live outside what the image keeps; the repository's own git hooks stay off.
DEPS_SCRIPT = """set -eo pipefail
{proxy}
export HOME=/tmp/harness-home CI=1 HUSKY=0 npm_config_update_notifier=false \\
  npm_config_fund=false npm_config_audit=false npm_config_cache=/tmp/harness-cache/npm \\
  npm_config_store_dir=/tmp/harness-cache/pnpm YARN_CACHE_FOLDER=/tmp/harness-cache/yarn \\
  YARN_ENABLE_GLOBAL_CACHE=0 YARN_ENABLE_TELEMETRY=0 YARN_ENABLE_PROGRESS_BARS=0
{exports}
mkdir -p "$HOME"
cd /workspace
git init -q . >/dev/null 2>&1 || true
echo "node $(node --version), npm $(npm --version)"
{install}
cd /
python3 /opt/harness/hoist_deps.py
rm -rf /tmp/harness-home /tmp/harness-cache
"""


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
    """The sandbox image, built only when no image was built from the same inputs."""
    dockerfile = (config_dir / cfg.dockerfile) if cfg.dockerfile else bundled("Dockerfile.sandbox")
    helpers = bundled("sandbox")
    ca = extra_ca_bundle(cfg.extra_ca_certs, config_dir)
    args = {"BASE_IMAGE": cfg.base_image, "INSTALL_CLIS": "1" if cfg.install_clis else "0"}
    key = _digest([dockerfile.read_bytes(), ca, repr(sorted(args.items())).encode(),
                   *_tree_bytes(helpers)])
    found = existing(client, cfg.image, key)
    if found:
        return found
    ensure_base_image(client, cfg.base_image, progress)
    with tempfile.TemporaryDirectory(prefix="harness-ctx-") as tmp:
        ctx = Path(tmp)
        shutil.copy(dockerfile, ctx / "Dockerfile")
        (ctx / "extra-ca-certs.crt").write_bytes(ca)
        shutil.copytree(helpers, ctx / "sandbox",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return _docker_build(client, ctx, cfg.image, key, args=args, progress=progress)


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
    """The image a ticket runs in: the sandbox image plus the repository's toolchain and its
    installed dependencies; the sandbox image itself for a repository without a package.json.
    ``source``: any ``SourceFiles`` (a commit), or a checkout's root, read as it is now."""
    if isinstance(source, Path):
        with snapshot(source) as tree:
            return dependency_image(client, sandbox, tree, cfg, progress)
    repo = Repo.read(source)
    if "package.json" not in repo.text and not (cfg.setup_command or cfg.node):
        return sandbox
    chain = detect(repo, node=cfg.node, setup_command=cfg.setup_command)
    for line in chain.lines():
        progress(f"toolchain: {line}")
    base = toolchain_image(client, sandbox, chain, cfg, progress)
    if chain.install is None:
        return base
    owner = container_user()
    # The build gets exactly the files the key hashes (deps_context.py says why).
    files = source.read_all(repo.key_files())
    key = _digest([base.id.encode(), chain.install.value.encode(),
                   json.dumps(chain.env, sort_keys=True).encode(), repr(owner).encode(),
                   *(p.encode() + b"\0" + data for p, data in files.items())])
    tag = f"harness-deps:{key[:20]}"
    found = existing(client, tag, key)
    if found:
        progress(f"dependencies: reusing {tag} (same lockfile and toolchain)")
        return found
    progress(f"dependencies: installing with `{chain.install.value}` into {tag}")
    user = "{}:{}".format(*owner)
    registries = [*image_registries(client, base.id, user, yarn=chain.manager_name == "yarn"),
                  *cfg.install_registries,
                  *(repo_registries(repo.text) if cfg.install_repo_registries else [])]
    progress("dependencies: the install reaches " + (", ".join(sorted(set(registries)))
                                                      or "no registry") + " and nothing else")
    script = DEPS_SCRIPT.format(proxy=SCRIPT_PREFIX, exports=_exports(chain, repo),
                                install=chain.install.value)
    with install_context(files, owner) as tree, \
            serve(registries, blocked=engine_networks(client), via=cfg.upstream_proxy,
                  report=progress, owner=owner) as proxy_dir:
        return run_build(client, Build(
            base.id, tag, key, script, user=user, timeout=cfg.setup_timeout,
            files=tree, env=chain.env, proxy_dir=proxy_dir,
            labels={DEPS_LABEL: json.dumps({"install": chain.install.value, "env": chain.env})}),
            cfg, progress)


def toolchain_image(client: docker.DockerClient, sandbox: BuiltImage, chain: Toolchain,
                    cfg: SandboxConfig, progress: Progress) -> BuiltImage:
    """The sandbox image with the repository's Node, npm and corepack (one layer, shared by
    every repository on that Node), then its package manager (a layer on top)."""
    spec = {"node": [chain.node.value], "manager": chain.manager.value}
    node = _toolchain_layer(client, sandbox, spec, layer="node", cfg=cfg, progress=progress)
    return _toolchain_layer(client, node, spec, layer="manager", cfg=cfg, progress=progress)


def _toolchain_layer(client: docker.DockerClient, base: BuiltImage, spec: dict[str, Any], *,
                     layer: str, cfg: SandboxConfig, progress: Progress) -> BuiltImage:
    script_file = bundled("sandbox/toolchain_install.py")
    wanted = {layer: spec[layer]}
    key = _digest([base.id.encode(), json.dumps(wanted).encode(), script_file.read_bytes()])
    tag = f"harness-toolchain:{key[:20]}"
    found = existing(client, tag, key)
    if found:
        progress(f"toolchain: reusing {tag} ({layer} {_recorded(found).get(layer, '')})")
        return found
    progress(f"toolchain: installing {layer} {spec[layer]} into {tag}")
    script = (f"python3 /opt/harness/toolchain_install.py {shlex.quote(json.dumps(spec))} "
              f"{layer}")
    image = run_build(client, Build(base.id, tag, key, script, user="0:0",
                                    timeout=cfg.setup_timeout, env=TOOLCHAIN_ENV,
                                    record=TOOLCHAIN_RECORD, record_label=TOOLCHAIN_LABEL),
                      cfg, progress)
    progress(f"toolchain: {tag} has " + ", ".join(
        f"{k} {v}" for k, v in _recorded(image).items() if v))
    return image


def toolchain_of(image: BuiltImage) -> dict[str, Any]:
    """The exact versions a toolchain or dependency image holds (empty for the sandbox image)."""
    return _recorded(image)


def _recorded(image: BuiltImage) -> dict[str, Any]:
    try:
        data = json.loads(image.labels.get(TOOLCHAIN_LABEL) or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _exports(chain: Toolchain, repo: Repo) -> str:
    """The toolchain's variables, and an empty value for each ${VAR} an .npmrc names: a token
    the sandbox never has must not stop npm from reading the file."""
    names = set()
    for path, text in repo.text.items():
        if path.endswith(".npmrc"):
            names |= {m.strip() for m in _placeholders(text)}
    values = {**dict.fromkeys(sorted(names), ""), **chain.env}
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in values.items()
                     if k.isidentifier())


def _placeholders(text: str) -> Iterator[str]:
    start = text.find("${")
    while start >= 0:
        end = text.find("}", start)
        if end < 0:
            return
        yield text[start + 2:end].split(":", 1)[0].removesuffix("?")
        start = text.find("${", end)


def existing(client: docker.DockerClient, tag: str, key: str) -> BuiltImage | None:
    """The image built from ``key``'s inputs, tagged ``tag``: under that tag already, or found
    by its label (untagged, or under its hash tag) and tagged again — never rebuilt."""
    try:
        image = client.images.get(tag)
        if (image.labels or {}).get(HASH_LABEL) == key:
            return BuiltImage(tag, str(image.id), True, dict(image.labels or {}))
    except docker.errors.ImageNotFound:
        pass
    for summary in client.api.images(all=True, filters={"label": f"{HASH_LABEL}={key}"}):
        repository, _, name = tag.rpartition(":")
        try:
            client.api.tag(summary["Id"], repository, name)
            image = client.images.get(summary["Id"])
        except docker.errors.NotFound:  # a gc elsewhere took it a moment ago
            continue
        return BuiltImage(tag, str(image.id), True, dict(image.labels or {}))
    return None


def hash_tag(tag: str, key: str) -> str:
    return f"{tag.rpartition(':')[0] or tag}:h-{key[:16]}"


def _docker_build(client: docker.DockerClient, ctx: Path, tag: str, key: str, *,
                  args: dict[str, str], progress: Progress) -> BuiltImage:
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
    repository, _, name = hash_tag(tag, key).rpartition(":")
    client.api.tag(image.id, repository, name)
    return BuiltImage(tag, str(image.id), False, dict(image.labels or {}))


def _tree_bytes(root: Path) -> Iterator[bytes]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield str(path.relative_to(root)).encode() + b"\0" + path.read_bytes()


def _digest(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()
