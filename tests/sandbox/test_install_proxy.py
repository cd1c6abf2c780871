"""The install proxy's allow-list, without the engine: which registries a repository names,
and which addresses a tunnel never reaches."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.sandbox.install_proxy import SOCKET, Refused, _check, endpoint, repo_registries, serve
from tests.sandbox.test_egress_host import PROBE


def test_the_registries_a_repositorys_files_name() -> None:
    texts = {".npmrc": "registry=https://npm.corp.example/\n@acme:registry = https://acme.example/x/"
             "\n//npm.corp.example/:_authToken=${NPM_TOKEN}\n",
             ".yarnrc": 'registry "https://yarn1.example"\n',
             ".yarnrc.yml": 'npmRegistryServer: "https://berry.example"\nnpmScopes:\n  acme:\n'
                            "    npmRegistryServer: https://scope.example:8443\n",
             "package.json": '{"registry": "https://not-a-setting.example"}'}
    assert sorted(repo_registries(texts)) == [
        "https://acme.example/x/", "https://berry.example", "https://npm.corp.example/",
        "https://scope.example:8443", "https://yarn1.example"]
    assert endpoint("https://scope.example:8443") == ("scope.example", 8443)
    assert endpoint("HTTPS://Reg.Example/") == ("reg.example", 443)
    assert endpoint("http://plain.example/") is None  # only https: CONNECT tunnels


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "169.254.169.254", "0.0.0.0",
                                     "224.0.0.1", "172.17.0.1"])
def test_a_tunnel_never_reaches_the_host_or_a_docker_network(address: str) -> None:
    with pytest.raises(Refused):
        _check(ipaddress.ip_address(address), [ipaddress.ip_network("172.17.0.0/16")])


def test_only_a_configured_registry_gets_a_tunnel(tmp_path: Path) -> None:
    target = socket.socket()
    target.bind(("127.0.0.1", 0))
    target.listen(1)
    port = target.getsockname()[1]
    reported: list[str] = []
    with serve([f"https://localhost:{port}"], blocked=[], via=None,
               report=reported.append, owner=OWNER) as directory:
        answers = [_connect(directory, t) for t in
                   (f"localhost:{port}", f"127.0.0.1:{port}", "example.com:443")]
        assert _connect(directory, "GET http://example.com/", method="").startswith(
            "HTTP/1.1 403")
    target.close()
    # localhost is configured here, but it is this host's own address: refused all the same
    assert [a.split(" ")[1] for a in answers] == ["403", "403", "403"]
    assert any("an address of this host" in r or "loopback" in r for r in reported), reported


def _connect(directory: Path, target: str, method: str = "CONNECT ") -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(directory / SOCKET))
        sock.sendall(f"{method}{target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return sock.recv(200).decode().split("\r\n")[0]




OWNER = (1000, 1000) if os.getuid() == 0 else (os.getuid(), os.getgid())


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another uid needs root")
def test_no_other_local_user_reaches_the_install_proxy() -> None:
    with serve([], blocked=[], via=None, report=lambda _: None, owner=OWNER) as directory:
        sock = directory / SOCKET
        assert (directory.stat().st_mode & 0o777, sock.stat().st_mode & 0o777) == (0o750, 0o660)
        assert directory.stat().st_gid == sock.stat().st_gid == OWNER[1]
        out = subprocess.run([sys.executable, "-I", "-c", PROBE, str(sock)],
                             capture_output=True, text=True, timeout=30, check=False)
    assert out.stdout.startswith("refused"), out.stdout + out.stderr
    assert not directory.exists()
