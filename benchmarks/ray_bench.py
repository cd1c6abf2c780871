#!/usr/bin/env python3
"""Ray engine overhead: wall time of the same batch on the Ray engine over the local engine, on
one machine, side by side in one run. The Ray side is a one-node cluster (a head started with
`harness worker start --head --slots W`), so both engines run W tickets at a time against the
same Docker engine; an instant scripted vendor makes the figure the engines' own overhead (task
dispatch, the ledger, bundles, run directories shipped back, Ray's worker processes). Each
engine runs a warm-up batch first (images, the dependency layer, Ray's first worker processes),
then `--rounds` batches; the best round of each is compared.

Usage: python benchmarks/ray_bench.py [--tickets 8] [--workers 2] [--rounds 3]
Needs a running Docker engine and harness[ray]; starts and stops its own Ray head.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# The same repository and scripted stages as batch_bench: this directory is on sys.path for
# the script and for Ray's workers, which import the stages' scripts from it by module path.
from batch_bench import make_repo

from harness.pipeline.ticket import Ticket
from harness.runs.batch import BatchSpec, Engine, run_batch
from harness.runs.tickets import BatchItem

# The project's own stages file, named: found on its own in a checkout it is refused.
STAGES = Path(__file__).resolve().parents[1] / "stages.yaml"

# By module path: Ray's worker processes import batch_bench (the driver gives them its script
# directory on sys.path), as does the local engine in this process.
STAGES = """\
planner: {vendor: scripted, model: opus, timeout: 30s,
          vendor_options: {script: "batch_bench:planner"}}
coder: {vendor: scripted, model: sonnet, timeout: 30s,
        vendor_options: {script: "batch_bench:coder"}}
sandbox: {test_command: "node --test test/"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return int(s.getsockname()[1])


@contextmanager
def ray_head(root: Path, slots: int) -> Iterator[str]:
    """A head node with ``slots`` slots, its own session; killed with its session on exit."""
    port = free_port()
    log = root / "head.log"
    argv = [sys.executable, "-c", "from harness.cli import main; main()", "worker", "start",
            "--head", "--slots", str(slots), "--work-dir", str(root / "work"),
            "-c", str(STAGES), "--",
            "--block", "--port", str(port), "--temp-dir", str(root / "ray"),
            "--num-cpus", str(slots), "--include-dashboard=false", "--disable-usage-stats",
            "--ray-client-server-port", str(free_port()),
            "--dashboard-agent-listen-port", str(free_port())]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        while "Ray runtime started" not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise SystemExit(f"the Ray head did not start:\n{log.read_text()}")
            time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # Ray's own children die with their raylet
        proc.wait()


def timed(spec: BatchSpec, engine: Engine | None) -> float:
    start = time.perf_counter()
    state = run_batch(spec, engine=engine)
    wall = time.perf_counter() - start
    assert all(r["status"] == "resolved" for r in state.done), state.done
    assert len(state.done) == len(spec.items), state
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from harness.scale.engine import RayEngine  # noqa: PLC0415 (Ray: only once parsed)

    with tempfile.TemporaryDirectory(prefix="hrb-") as tmp:  # short: Ray's socket paths
        root = Path(tmp)
        repo = make_repo(root / "repo")
        config = root / "stages.yaml"
        config.write_text(STAGES)
        items = [BatchItem(Ticket(id=f"BENCH-{i}", title="trim dashes"))
                 for i in range(args.tickets)]

        def spec(name: str) -> BatchSpec:
            return BatchSpec(items, repo, config, root / name, args.workers)

        with ray_head(root, args.workers) as address:
            engines: dict[str, Engine | None] = {"local": None, "ray": RayEngine(address)}
            walls: dict[str, list[float]] = {name: [] for name in engines}
            for name, engine in engines.items():
                timed(spec(f"warm-{name}"), engine)
            for n in range(args.rounds):
                for name, engine in engines.items():
                    walls[name].append(timed(spec(f"{name}-{n}"), engine))
    local, ray = min(walls["local"]), min(walls["ray"])
    print(f"{args.tickets} tickets, {args.workers} at a time, instant scripted vendor, "
          f"best of {args.rounds}")
    print(f"{'ray engine wall / local engine wall':40s} {ray:8.3f}s / {local:8.3f}s = "
          f"{ray / local:6.3f}x")
    print(f"{'(info) overhead per ticket':40s} {(ray - local) / args.tickets:8.3f}s")
    print(f"{'(info) rounds, local':40s} {', '.join(f'{w:.2f}s' for w in walls['local'])}")
    print(f"{'(info) rounds, ray':40s} {', '.join(f'{w:.2f}s' for w in walls['ray'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
