"""The only way out of a dependency build: a host-side proxy that opens CONNECT tunnels to the
configured registries and to nothing else.

The build container has no network. A directory mounted read-only at ``PROXY_MOUNT`` holds a
Unix socket this module answers on; a relay started by the build script (``hx_exec.forward``)
turns ``127.0.0.1:RELAY_PORT`` inside the container into that socket, and the package managers
are pointed at it as their HTTPS proxy. Lifecycle scripts share the route, so whatever they try
(the bridge's gateway, a port of the host, another host) meets the same allow-list: a tunnel
only to a registry's host and port, and never to an address of the host itself, its loopback,
link-local or multicast ranges, or a Docker network. TLS stays end to end (the image trusts the
host's CA bundle, as without the proxy)."""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import socketserver
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import docker

from harness.sandbox.build import PROXY_MOUNT
from harness.sandbox.unix_server import private_dir, serving, share_with_directory_group

SOCKET = "proxy.sock"
RELAY_PORT = 3128  # inside the build container, on its loopback
CONNECT_TIMEOUT = 30.0
IDLE_TIMEOUT = 600.0  # seconds without a byte either way before a tunnel is dropped
HEADER_LIMIT = 16 << 10
REPORTED = 20  # refusals reported to the progress line, at most
Endpoint = tuple[str, int]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Settings in the repository's own files that name a registry: .npmrc `registry=` and
# `@scope:registry=`, yarn 1's `registry "…"`, berry's `npmRegistryServer:` (npmScopes too).
_REPO_REGISTRY = re.compile(
    r"""^\s*(?:(?:@[\w.-]+:)?registry\s*=|["']?(?:@[\w.-]+:)?registry["']?\s+|npmRegistryServer:)
        \s*["']?(https?://[^\s"']+)""", re.MULTILINE | re.VERBOSE)
_URL_LINE = re.compile(r"^(https?://\S+)$", re.MULTILINE)
_PROBED: dict[tuple[str, str], tuple[str, ...]] = {}

# The relay and the proxy settings every package manager reads, first in the build script.
SCRIPT_PREFIX = f"""python3 -B -c 'import sys, time; sys.path.insert(0, "/opt/harness")
import hx_exec; hx_exec.forward({{"port": {RELAY_PORT}, "socket": "{PROXY_MOUNT}/{SOCKET}"}})
time.sleep(1e6)' &
for _ in $(seq 100); do (: >/dev/tcp/127.0.0.1/{RELAY_PORT}) 2>/dev/null && break; sleep 0.05; done
proxy=http://127.0.0.1:{RELAY_PORT}
export HTTPS_PROXY=$proxy HTTP_PROXY=$proxy https_proxy=$proxy http_proxy=$proxy \\
  npm_config_proxy=$proxy npm_config_https_proxy=$proxy YARN_HTTPS_PROXY=$proxy \\
  YARN_HTTP_PROXY=$proxy NO_PROXY= no_proxy= npm_config_noproxy=
"""


def endpoint(url: str) -> Endpoint | None:
    """The host and port of an https registry URL (None: not one)."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        return None
    try:
        return parts.hostname.lower(), parts.port or 443
    except ValueError:
        return None


def repo_registries(texts: Mapping[str, str]) -> list[str]:
    """The registries the repository's .npmrc, .yarnrc and .yarnrc.yml name."""
    found: list[str] = []
    for path, text in sorted(texts.items()):
        if Path(path).name in (".npmrc", ".yarnrc", ".yarnrc.yml"):
            found += _REPO_REGISTRY.findall(text)
    return found


def image_registries(client: docker.DockerClient, image_id: str, user: str, *,
                     yarn: bool) -> tuple[str, ...]:
    """The registries the image's package managers use when nothing in a repository says
    otherwise (asked once per image, offline, in an empty directory)."""
    cached = _PROBED.get((image_id, user))
    if cached is not None:
        return cached
    probe = 'cd "$(mktemp -d)" && export HOME=$PWD && npm config get registry'
    if yarn:
        probe += "; (yarn config get registry || yarn config get npmRegistryServer) 2>/dev/null"
    out = client.containers.run(
        image_id, ["bash", "-c", probe + "; true"], user=user, network_mode="none",
        remove=True, stderr=False)
    found = tuple(_URL_LINE.findall(out.decode("utf-8", "replace")))
    _PROBED[(image_id, user)] = found
    return found


def engine_networks(client: docker.DockerClient) -> list[Network]:
    """Every Docker network's subnets: other containers are never a registry."""
    nets: list[Network] = []
    for net in client.networks.list():
        for conf in (net.attrs.get("IPAM") or {}).get("Config") or []:
            with suppress(ValueError, TypeError):
                nets.append(ipaddress.ip_network(conf.get("Subnet"), strict=False))
    return nets


class Refused(Exception):
    pass


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, allowed: frozenset[Endpoint], blocked: list[Network],
                 via: str | None, report: Callable[[str], None]) -> None:
        self.allowed, self.blocked, self.via = allowed, blocked, via
        self.report = report
        self.refusals = 0
        super().__init__(path, _Handler)

    def refused(self, what: str) -> None:
        self.refusals += 1
        if self.refusals <= REPORTED:
            self.report(f"install proxy: refused {what}")


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    rbufsize = 0  # nothing of the tunnel may sit in a buffer once the headers are read

    def handle(self) -> None:
        head = self._head()
        if head is None:
            return
        method, _, rest = head.partition(" ")
        target = rest.partition(" ")[0]
        found = _target(target) if method == "CONNECT" else None
        if found is None or found not in self.server.allowed:
            self.server.refused(f"{method} {target[:200]} (not a configured registry)")
            self._answer(403, "the harness install proxy opens tunnels to the configured "
                         "registries only")
            return
        try:
            upstream = _open(*found, self.server.blocked, self.server.via)
        except Refused as exc:
            self.server.refused(f"CONNECT {target}: {exc}")
            self._answer(403, str(exc))
            return
        except OSError as exc:
            self._answer(502, f"cannot reach {target}: {exc}")
            return
        self._answer(200, "Connection established")
        _splice(self.connection, upstream)

    def _head(self) -> str | None:
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(HEADER_LIMIT)
            size += len(line)
            if not line or size > HEADER_LIMIT:
                return None
            if line in (b"\r\n", b"\n"):
                return lines[0].decode("latin-1").strip() if lines else None
            lines.append(line)

    def _answer(self, status: int, reason: str) -> None:
        with suppress(OSError):
            self.wfile.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n"
                             .encode("latin-1", "replace"))


def _target(text: str) -> Endpoint | None:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]").lower(), int(port)


def _open(host: str, port: int, blocked: list[Network], via: str | None) -> socket.socket:
    if via:  # the host's own way out; it resolves the name itself
        return _through(via, host, port)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for *_, addr in infos:  # every address first: a name must not mix in a forbidden one
        _check(ipaddress.ip_address(addr[0]), blocked)
    last: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _, addr in infos:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(addr)  # the address checked, never a second lookup
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.settimeout(IDLE_TIMEOUT)
        return sock
    raise last


def _check(ip: Address, blocked: list[Network]) -> None:
    if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        raise Refused(f"{ip} is a loopback, link-local, multicast or unspecified address")
    if any(ip in net for net in blocked):
        raise Refused(f"{ip} is on a Docker network")
    if _is_local(ip):
        raise Refused(f"{ip} is an address of this host")


def _is_local(ip: Address) -> bool:
    """Whether ``ip`` is one of this host's own addresses (only those can be bound)."""
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False
        return True


def _through(via: str, host: str, port: int) -> socket.socket:
    """A tunnel through the user's own HTTP proxy (``sandbox.upstream_proxy``)."""
    proxy = urlsplit(via)
    sock = socket.create_connection((proxy.hostname or "", proxy.port or 80), CONNECT_TIMEOUT)
    try:
        sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk or len(reply) > HEADER_LIMIT:
                raise OSError(f"{via} closed the connection before answering CONNECT")
            reply += chunk
        status = reply.split(b" ", 2)[1] if reply.count(b" ") >= 1 else b""
        if status != b"200":
            raise OSError(f"{via} answered CONNECT {host}:{port} with "
                          f"{reply.splitlines()[0].decode('latin-1')}")
    except BaseException:
        sock.close()
        raise
    sock.settimeout(IDLE_TIMEOUT)
    return sock


def _splice(client: socket.socket, upstream: socket.socket) -> None:
    back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
    back.start()
    _pipe(client, upstream)
    back.join()
    upstream.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


@contextmanager
def serve(registries: Iterable[str], *, blocked: list[Network], via: str | None,
          report: Callable[[str], None], owner: tuple[int, int]) -> Iterator[Path]:
    """A private directory whose socket is the proxy, for ``registries`` (https URLs), until
    the block ends; mount it at ``PROXY_MOUNT``. Only the build's user ``owner`` (uid, gid)
    and this process reach the socket (``unix_server``)."""
    allowed = frozenset(e for e in map(endpoint, registries) if e is not None)
    directory = private_dir("harness-inst-", owner)
    try:
        path = directory / SOCKET
        server = _Server(str(path), allowed, blocked, via, report)
        share_with_directory_group(path)
        with serving(server, "install-proxy"):
            yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
