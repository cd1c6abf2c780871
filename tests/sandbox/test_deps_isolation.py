"""Dependency builds against a hostile repository: what one commit's lifecycle scripts do never
reaches another commit's tests through the shared image, and an install reaches the registry
and nothing else."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.image import BuiltImage, dependency_image
from harness.sandbox.sources import Commit
from tests.sandbox.conftest import CFG, git, make_repo
from tests.sandbox.test_deps import IGNORE, lock, manifest

pytestmark = pytest.mark.docker  # every test here needs the engine

Open = Callable[..., DockerSandbox]
POISON = ('const fs = require("fs");\n'
          'fs.writeFileSync("node_modules/is-number/index.js", '
          '"module.exports = () => \\"POISONED\\";\\n");\n'
          'fs.writeFileSync("node_modules/.poisoned", "1");\n')


def test_a_commits_lifecycle_script_never_poisons_another_commits_image(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    """Two commits with the same manifest and lockfile share one dependency image. The first
    one's postinstall runs a file the key does not cover, which rewrites a dependency; the
    second commit's tests must see the registry's package, not the first one's poison."""
    repo = make_repo(tmp_path / "poison", {
        ".gitignore": IGNORE,
        # a manifest of its own each run, so no image an earlier run built is reused
        "package.json": manifest(name="poison", description=f"run {uuid.uuid4().hex}",
                                 dependencies={"is-number": "7.0.0"},
                                 scripts={"postinstall": "node tools/setup.js"}),
        "tools/setup.js": POISON})
    lock(client, image, repo, "npm install --package-lock-only --ignore-scripts")
    poisoned = git(repo, "rev-parse", "HEAD").strip()
    (repo / "tools" / "setup.js").write_text("// nothing to set up\n")
    git(repo, "commit", "-qam", "benign setup")
    clean = git(repo, "rev-parse", "HEAD").strip()
    first = dependency_image(client, image, Commit(repo, poisoned), CFG, lambda _: None)
    second = dependency_image(client, image, Commit(repo, clean), CFG, lambda _: None)
    assert first.id == second.id  # the same key: the image is shared, as it should be
    sandbox = open_sandbox(repo, base=clean)
    result = sandbox.exec("node -e 'console.log(require(\"is-number\")(3))'; "
                          "ls /deps/node_modules/.poisoned 2>&1; true")
    assert result.stdout.splitlines()[0] == "true", result.stdout + result.stderr
    assert "POISONED" not in result.stdout
    assert "No such file" in result.stdout


PROBE = """
python3 - <<'PY'
import json, os, socket, subprocess
def direct(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "open"
    except OSError:
        return "closed"
def tunnel(target):
    proxy = os.environ.get("HTTPS_PROXY")
    if not proxy:
        return "no proxy"
    host, port = proxy.rsplit("/", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("CONNECT %s HTTP/1.1\\r\\nHost: %s\\r\\n\\r\\n" % (target, target)).encode())
        return s.recv(200).split(b"\\r\\n")[0].decode()
registry = subprocess.run(["npm", "config", "get", "registry"], capture_output=True,
                          text=True).stdout.strip().split("/")[2]
out = {"direct": direct("GATEWAY", PORT), "gateway": tunnel("GATEWAY:PORT"),
       "loopback": tunnel("127.0.0.1:PORT"), "other": tunnel("example.com:443"),
       "registry": tunnel(registry + ":443")}
json.dump(out, open("/deps/probe.json", "w"))
PY
"""


@pytest.fixture
def host_server() -> Iterator[tuple[int, list[str]]]:
    """A TCP server on every address of the host, on a high port: who connected."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(8)
    server.settimeout(0.2)
    hits: list[str] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, peer = server.accept()
            except OSError:
                continue
            hits.append(peer[0])
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    done.set()
    thread.join()
    server.close()


def test_an_install_reaches_the_registry_and_nothing_else(
        client: docker.DockerClient, image: BuiltImage, tmp_path: Path,
        host_server: tuple[int, list[str]]) -> None:
    """A command in the dependency build (where lifecycle scripts run) tries the bridge's
    gateway directly, then tunnels to the gateway, the host's loopback and another host
    through the install's proxy: all fail, while the registry install succeeds."""
    port, hits = host_server
    bridge = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = bridge.get("Gateway") or str(next(ipaddress.ip_network(bridge["Subnet"]).hosts()))
    repo = make_repo(tmp_path / "net", {
        "package.json": manifest(name="net", dependencies={"is-number": "7.0.0"})})
    lock(client, image, repo, "npm install --package-lock-only --ignore-scripts")
    probe = PROBE.replace("GATEWAY", gateway).replace("PORT", str(port))
    cfg = CFG.model_copy(update={"setup_command": "npm ci --no-audit --no-fund" + probe})
    lines: list[str] = []
    deps = dependency_image(client, image, Commit(repo, "HEAD"), cfg, lines.append)
    out = client.containers.run(deps.id, ["bash", "-c", "cat /deps/probe.json; echo; node -e "
                                          "'console.log(require(\"is-number\")(3))'"],
                                remove=True, network_mode="none").decode()
    found = json.loads(out.splitlines()[0])
    assert out.splitlines()[1] == "true"  # installed from the registry, through the proxy
    assert found["direct"] == "closed", found
    for what in ("gateway", "loopback", "other"):
        assert found[what].startswith("HTTP/1.1 403"), found
    assert found["registry"].startswith("HTTP/1.1 200"), found
    assert hits == []
    assert any(f"refused CONNECT {gateway}:{port}" in line for line in lines), lines[-20:]
