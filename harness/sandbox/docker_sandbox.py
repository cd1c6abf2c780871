"""The Docker sandbox: one container per ticket, the worktree bind-mounted at /workspace."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import docker
import docker.errors
import requests
from docker.models.containers import Container
from docker.types import Mount, Ulimit

from harness.config.schema import SandboxConfig
from harness.errors import SandboxError
from harness.resources import bundled
from harness.sandbox.base import WORKDIR, ExecResult, Sandbox, SearchHit
from harness.sandbox.egress import (
    CONTROL_DIR,
    SOCKET,
    Session,
    make_control_dir,
    remove_control_dir,
    serve,
)
from harness.sandbox.files import WorkspaceFiles
from harness.sandbox.quota import KILLER, Quota
from harness.sandbox.workspace import Workspace, remove_workspace
from harness.vendors.egress import EGRESS_PORT
from harness.vendors.types import EgressRoute

SUPERVISOR = "/opt/harness/hx_exec.py"
UNPAUSE_LAG = 5.0  # seconds an exec may wait for the engine to see an unpause
# PID 1: a reaper sent as source, so any image with a python3 runs it (a pinned older one too).
INIT = ["python3", "-I", "-c", bundled("sandbox/hx_init.py").read_text(encoding="utf-8")]
CONTAINER_UID = (1000, 1000)
LABEL_RUN, LABEL_TICKET = "harness.run_id", "harness.ticket"
LABEL_RUN_DIR, LABEL_REPO = "harness.run_dir", "harness.repo"
BRIDGE = "bridge"
# none: no network and no egress; proxy: no network, a CLI's API through the egress proxy only;
# always: the bridge for everything (and a CLI's API still through the proxy: keys stay out).
Network = Literal["none", "proxy", "always"]
# Slack between a command's own timeout and the host giving up on the exec call.
HOST_SLACK = 30.0
# A search's output is bounded by its hit count (`head` in the container) and rg's
# --max-columns; this is only the supervisor's cut for paths of absurd length.
SEARCH_OUTPUT = 8 << 20


@dataclass(frozen=True)
class Identity:
    run_id: str
    ticket: str
    run_dir: str


def _hit(raw: str) -> SearchHit | None:
    """One line of ``rg --null`` output: ``path\0N:text`` (a match) or ``path\0N-text``
    (context); None for a group separator."""
    file, nul, rest = raw.partition("\0")
    number = rest[:len(rest) - len(rest.lstrip("0123456789"))]
    if not nul or not number or len(rest) == len(number):
        return None
    sep, text = rest[len(number)], rest[len(number) + 1:]
    return SearchHit(file.removeprefix("./"), int(number), text, context=sep == "-")


def _holds_result(out: bytearray) -> bool:
    """Whether the supervisor's output ends with its one JSON result line (a command's own
    output travels inside that line, escaped, so no line of it can end the read early)."""
    if not out.endswith(b"\n"):
        return False
    line = out[out.rfind(b"\n", 0, len(out) - 1) + 1:]
    try:
        data = json.loads(line)
    except ValueError:
        return False
    return isinstance(data, dict) and "exit_code" in data


def container_user() -> tuple[int, int]:
    """The container's uid:gid: the host user's, unless that is root (never root inside)."""
    uid, gid = os.getuid(), os.getgid()
    return CONTAINER_UID if uid == 0 else (uid, gid)


def run_container(client: docker.DockerClient, image: str, mount: Path, repo: Path,
                  cfg: SandboxConfig, *, who: Identity, network: Network,
                  control: Path) -> Container:
    """Start the ticket's container with ``mount`` (an existing directory) at /workspace and
    ``control`` (see ``egress``) read-only at its ``CONTROL_DIR``."""
    uid, gid = container_user()
    try:
        return client.containers.run(
            image, INIT, detach=True, init=False, user=f"{uid}:{gid}",
            working_dir=WORKDIR, hostname="sandbox",
            labels={LABEL_RUN: who.run_id, LABEL_TICKET: who.ticket,
                    LABEL_RUN_DIR: who.run_dir, LABEL_REPO: str(repo)},
            mounts=[Mount(WORKDIR, str(mount), type="bind"),
                    Mount(CONTROL_DIR, str(control), type="bind", read_only=True)],
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            nano_cpus=int(cfg.cpus * 1e9), mem_limit=cfg.memory, memswap_limit=cfg.memory,
            pids_limit=cfg.pids_limit,
            # No one file may outgrow the quota: fallocate claims space faster than the quota's
            # watcher looks, but not past RLIMIT_FSIZE (it is EFBIG, and SIGXFSZ to the writer).
            ulimits=[Ulimit(name="fsize", soft=cfg.workspace_quota, hard=cfg.workspace_quota)],
            network_mode=BRIDGE if network == "always" else "none",
            environment={"HOME": "/tmp", "CI": "1"})
    except docker.errors.ImageNotFound:
        raise SandboxError(f"image {image} not found — run `harness sandbox build`") from None
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise SandboxError(f"could not start the sandbox container: {exc}") from None


class DockerSandbox(Sandbox):
    def __init__(self, client: docker.DockerClient, container: Container, workspace: Workspace,
                 cfg: SandboxConfig, *, network: Network, control: Path) -> None:
        self.client = client
        self.network = network
        self.control = control
        self.container = container
        # Host git touches the tree only while the container is frozen (``frozen``).
        self.workspace = replace(workspace, quiesce=self.frozen)
        self.cfg = cfg
        owner = CONTAINER_UID if os.getuid() == 0 else None
        self.files = WorkspaceFiles(workspace.path, owner)
        self.quota = Quota(workspace.path, cfg.workspace_quota)
        # One command at a time: each one's end kills every other process in the container.
        self._exec_lock = threading.Lock()
        self._forward: dict[str, Any] | None = None  # the egress relay, during a session
        self._freeze = threading.RLock()  # re-entrant: one freeze covers nested git reads
        self._frozen_now = False
        self._closed = False

    @classmethod
    def start(cls, client: docker.DockerClient, image: str, workspace: Workspace,
              cfg: SandboxConfig, who: Identity, *, network: Network = "none") -> DockerSandbox:
        """Create and start the ticket's container; on failure nothing is left behind.

        ``network``: ``none`` never; ``proxy`` never, but a CLI session reaches its API through
        ``egress``; ``always`` on the bridge throughout."""
        control = make_control_dir(container_user())
        try:
            container = run_container(client, image, workspace.path, workspace.repo, cfg,
                                      who=who, network=network, control=control)
        except BaseException:
            remove_control_dir(control)
            raise
        return cls(client, container, workspace, cfg, network=network, control=control)

    @contextmanager
    def egress(self, route: EgressRoute) -> Iterator[Session]:
        """The container's way to ``route``'s API for the block: commands run meanwhile reach
        it at ``127.0.0.1:EGRESS_PORT``; nothing else is reachable, and the credential is set on
        the host."""
        if self.network == "none":
            raise SandboxError("sandbox.network is none: a CLI stage cannot reach its API — set "
                               "it to cli-only (the default) in stages.yaml")
        with serve(route, self.control, via=self.cfg.upstream_proxy) as session:
            self._forward = {"port": EGRESS_PORT, "socket": f"{CONTROL_DIR}/{SOCKET}"}
            try:
                yield session
            finally:
                self._forward = None

    # -- commands ------------------------------------------------------------------------------

    def exec(self, cmd: str | Sequence[str], *, timeout: float | None = None,
             env: Mapping[str, str] | None = None, workdir: str = WORKDIR) -> ExecResult:
        return self._exec(cmd, timeout=timeout, env=env, workdir=workdir,
                          output_limit=self.cfg.output_limit)

    def _exec(self, cmd: str | Sequence[str], *, timeout: float | None,
              env: Mapping[str, str] | None, workdir: str, output_limit: int) -> ExecResult:
        limit = timeout if timeout is not None else self.cfg.exec_timeout
        # The environment goes to docker exec, not into the request: the request is the
        # supervisor's command line, which any process in the container can read.
        request = json.dumps({"cmd": cmd if isinstance(cmd, str) else list(cmd),
                              "timeout": limit, "limit": output_limit,
                              "cwd": workdir, "forward": self._forward})
        with self._exec_lock:
            started = time.monotonic()
            with self.quota.watch(stop=self._stop_command) as watch:
                out, err = self._exec_raw(request, env, timeout=limit + HOST_SLACK)
            return self.quota.verdict(self._result(out, err, time.monotonic() - started),
                                      watch)

    def _stop_command(self) -> None:
        """Kill the running command's processes from a second exec (``KILLER``); if that
        cannot start (a full pids limit), the container itself. Detached: the command's own
        exec reports the kill, and a lost exit of this short one (see ``_exec_raw``) must not
        hold the watcher."""
        api = self.client.api
        try:
            api.exec_start(self._exec_create(["python3", "-I", "-c", KILLER], workdir="/"),
                           detach=True)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            with suppress(docker.errors.APIError, requests.exceptions.RequestException):
                self.container.kill()  # gone already: the command is stopped either way

    def _exec_raw(self, request: str, env: Mapping[str, str] | None, *,
                  timeout: float) -> tuple[bytes, bytes]:
        api = self.client.api
        try:
            exec_id = self._exec_create(["python3", SUPERVISOR, request], workdir=WORKDIR,
                                        environment=dict(env or {}))
            api.timeout = int(timeout)
            stream = api.exec_start(exec_id, stream=True, demux=True)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise self._broken(f"exec failed: {exc}") from None
        out, err = bytearray(), bytearray()
        try:
            # Read up to the supervisor's result line, not to the end of the stream: the
            # result is its last act, and containerd 1.6's shim can lose the exit of a short
            # exec, leaving the stream open for good (measured: 6 of 2,000 freeze/exec cycles
            # of `true` under load; the exec still "running", its pid gone).
            for chunk_out, chunk_err in stream:
                err += chunk_err or b""
                out += chunk_out or b""
                if chunk_out and _holds_result(out):
                    break
        finally:
            stream.close()
        return bytes(out), bytes(err)

    def _exec_create(self, cmd: list[str], **kwargs: Any) -> str:
        """``exec_create``, waiting out the engine's lag after an unpause: dockerd 20.10
        can still answer 409 "is paused" for ~0.1 s after ``unpause`` returned (measured:
        8 of 600 freeze/exec cycles), which is not a broken sandbox."""
        deadline = time.monotonic() + UNPAUSE_LAG
        while True:
            try:
                return str(self.client.api.exec_create(self.container.id, cmd, **kwargs)["Id"])
            except docker.errors.APIError as exc:
                lagging = (exc.status_code == 409 and "is paused" in str(exc)
                           and not self._frozen_now)
                if not lagging or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _result(self, out: bytes, err: bytes, elapsed: float) -> ExecResult:
        line = out.decode("utf-8", "replace").strip().rsplit("\n", 1)[-1]
        try:
            data: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            # The supervisor itself died: killed by the OOM killer or a pids limit, typically.
            raise self._broken("the exec supervisor gave no result "
                               f"(after {elapsed:.1f}s): {err.decode(errors='replace')[-500:]}"
                               ) from None
        return ExecResult(int(data["exit_code"]), str(data["stdout"]), str(data["stderr"]),
                          bool(data["timed_out"]), bool(data["oom_killed"]),
                          float(data["duration"]), int(data["truncated"]))

    def _broken(self, what: str) -> SandboxError:
        try:
            self.container.reload()
            state = self.container.status
        except docker.errors.NotFound:
            state = "removed"
        except (docker.errors.APIError, requests.exceptions.RequestException):
            state = "unknown (engine not answering)"
        return SandboxError(f"sandbox {self.container.short_id} ({state}): {what}")

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """Every process in the container stopped (the cgroup freezer) for the block: no
        survivor of a command, however it survived, can change the tree while host git reads
        or writes it."""
        with self._freeze:
            if self._frozen_now:
                yield
                return
            paused = self._pause()
            self._frozen_now = True
            try:
                yield
            finally:
                self._frozen_now = False
                if paused:
                    self._unpause()

    def _pause(self) -> bool:
        """Freeze the container; False when there is nothing to freeze (it has stopped)."""
        try:
            self.container.pause()
            return True
        except docker.errors.NotFound:
            return False  # removed: nothing runs in it
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            try:
                self.container.reload()
            except docker.errors.NotFound:
                return False
            if self.container.status in ("exited", "dead", "created"):
                return False  # PID 1 is gone, and every process of the container with it
            raise self._broken(f"could not freeze the container before host git reads the "
                               f"workspace: {exc}") from None

    def _unpause(self) -> None:
        try:
            self.container.unpause()
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise self._broken(f"could not thaw the container: {exc}") from None

    # -- files ---------------------------------------------------------------------------------

    def read_file(self, path: str) -> str:
        return self.files.read(path)

    def write_file(self, path: str, content: str) -> None:
        self.files.write(path, content)

    def edit_file(self, path: str, old: str, new: str) -> None:
        self.files.edit(path, old, new)

    def read_bytes(self, path: str) -> bytes:
        return self.files.read_bytes(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        self.files.write_bytes(path, data)

    def remove_file(self, path: str) -> None:
        self.files.remove(path)

    def list_files(self, path: str = ".", *, limit: int = 2000) -> list[str]:
        return self.files.listing(path, limit)

    def search(self, pattern: str, path: str = ".", *, limit: int = 200,
               glob: str | None = None, context: int = 0,
               files_only: bool = False) -> list[SearchHit]:
        self.files.resolve(path)
        # Sorted by path, so a cut keeps the first matches, not the first a thread found; the
        # repository's ignore rules apply though the checkout has no .git (--no-require-git),
        # so a built dist/ does not crowd out src/. --null ends each path with NUL: a path
        # holding ":" or "-" cannot be read as a line number.
        argv = ["--line-number", "--no-heading", "--color", "never", "--sort", "path",
                "--no-require-git", "--null", "--max-columns", "400"]
        argv += [*(["-g", glob] if glob else []), *(["-C", str(context)] if context else []),
                 *(["-l"] if files_only else [])]
        # rg stops (SIGPIPE) once `head` has the first hits, and the output stays under the
        # supervisor's head-and-tail cut: a cut in the middle had listed the first hits, then
        # the last ones as if they followed. A hit is at most its context, itself and a "--".
        lines = (limit + 1) * (2 * context + 2)
        head = f"head -z -n {lines}" if files_only else f"head -n {lines}"
        script = f'rg "$@" | {head}; exit "${{PIPESTATUS[0]}}"'
        result = self._exec(["bash", "-c", script, "rg", *argv, "-e", pattern, "--", path],
                            timeout=60, env=None, workdir=WORKDIR, output_limit=SEARCH_OUTPUT)
        if result.exit_code == 2:
            raise ValueError(f"search failed: {result.stderr.strip()[:500]}")
        if files_only:  # with --null, -l ends each path with NUL instead of a newline
            paths = [p for p in result.stdout.split("\0") if p.strip()]
            return [SearchHit(p.strip().removeprefix("./"), 0, "") for p in paths][:limit]
        hits = (_hit(raw) for raw in result.stdout.splitlines())
        return [h for h in hits if h is not None][:limit]

    def exists(self, path: str) -> bool:
        return self.files.exists(path)

    def changed_files(self) -> list[str]:
        return self.workspace.changed_files()

    def diff(self) -> str:
        return self.workspace.diff()

    def reset(self) -> None:
        self.workspace.reset(CONTAINER_UID if os.getuid() == 0 else None)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        finally:
            remove_workspace(self.workspace)
            remove_control_dir(self.control)
