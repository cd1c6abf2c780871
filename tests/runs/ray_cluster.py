"""A real two-node Ray cluster on one machine for the Ray engine's tests: a head and a worker,
each started by ``harness worker start ... -- --block`` as its own session, with its own temp dir,
ports, work dir and ``harness_slot`` count. The worker's node address is 127.0.0.2 and the head
has the one Ray picks for this machine, so a driver started here attaches to the head (killing
the worker must not take the driver with it). Stopping kills each node's whole session by id — never
``ray stop``, which would end every Ray process on the machine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = [sys.executable, "-c", "from harness.cli import main; main()"]
WORKER_IP = "127.0.0.2"  # the head takes the address Ray picks for this machine, never this
READY = "Ray runtime started"
NODES = """\
import json, ray
ray.init(address={address!r}, logging_level="ERROR", log_to_driver=False)
print(json.dumps([{{"id": n["NodeID"], "slots": n["Resources"].get("harness_slot", 0)}}
                  for n in ray.nodes() if n["Alive"]]))
"""


@dataclass
class Node:
    proc: subprocess.Popen[bytes]
    root: Path  # temp dir, work dir and log
    slots: int
    id: str = ""

    @property
    def work(self) -> Path:
        return self.root / "work"

    def kill(self) -> None:
        """SIGKILL every process of the node's session (raylet, workers, agents...)."""
        for pid in session_pids(self.proc.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


@dataclass
class Cluster:
    address: str
    head: Node
    worker: Node


def session_pids(sid: int) -> list[int]:
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # after ")": state ppid pgrp session
                pids.append(int(stat.parent.name))
    return pids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


def node_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "HARNESS_RAY"))}
    # Declare a dead node after ~3 s instead of ~30 s; no usage reports from tests.
    return {**env, "RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "1000",
            "RAY_health_check_failure_threshold": "3", "RAY_USAGE_STATS_ENABLED": "0", **extra}


def start_node(root: Path, slots: int, *, address: str | None, port: int = 0) -> Node:
    root.mkdir(parents=True)
    if address:
        where, own = ["--address", address], ["--node-ip-address", WORKER_IP]
    else:
        where, own = ["--head"], ["--port", str(port), "--ray-client-server-port",
                                  str(free_port()), "--dashboard-port", str(free_port()),
                                  "--include-dashboard=false"]
    ray_args = [*own, "--block", "--temp-dir", str(root / "ray"), "--num-cpus", "1",
                "--disable-usage-stats",
                "--object-store-memory", str(100 * 2**20),
                "--dashboard-agent-listen-port", str(free_port()),
                "--metrics-export-port", str(free_port())]
    argv = [*HARNESS, "worker", "start", "--slots", str(slots), *where,
            "--work-dir", str(root / "work"), "-c", str(ROOT / "stages.yaml"), "--", *ray_args]
    log = (root / "node.log").open("wb")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env=node_env(), start_new_session=True)
    node = Node(proc, root, slots)
    deadline = time.monotonic() + 120
    while READY not in (root / "node.log").read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            node.kill()
            raise RuntimeError(f"node did not start:\n{(root / 'node.log').read_text()}")
        time.sleep(0.3)
    return node


def alive_nodes(address: str) -> list[dict[str, object]]:
    out = subprocess.run([sys.executable, "-c", NODES.format(address=address)], cwd=ROOT,
                         env=node_env(), capture_output=True, text=True, timeout=120, check=True)
    nodes: list[dict[str, object]] = json.loads(out.stdout.strip().splitlines()[-1])
    return nodes


@contextmanager
def two_node_cluster(head_slots: int, worker_slots: int) -> Iterator[Cluster]:
    """Both nodes up and known by id; both killed on exit, whatever happened."""
    assert head_slots != worker_slots, "the slot counts tell the nodes apart"
    root = Path(tempfile.mkdtemp(prefix="hray-"))  # short: Ray's socket paths must fit
    nodes: list[Node] = []
    try:
        port = free_port()
        address = f"127.0.0.1:{port}"  # the GCS listens on every address
        nodes.append(start_node(root / "head", head_slots, address=None, port=port))
        nodes.append(start_node(root / "worker", worker_slots, address=address))
        head, worker = nodes
        for n in alive_nodes(address):
            for node in nodes:
                if n["slots"] == node.slots:
                    node.id = str(n["id"])
        if not (head.id and worker.id):
            raise RuntimeError("the worker node did not join the head")
        yield Cluster(address, head, worker)
    finally:
        for node in reversed(nodes):
            node.kill()
        shutil.rmtree(root, ignore_errors=True)
