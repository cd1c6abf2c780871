#!/usr/bin/env python3
"""Egress proxy overhead, measured side by side in one run (medians), so machine speed cancels:

  1. one Messages API call from inside the container through the egress proxy (container
     loopback -> relay -> Unix socket -> host proxy -> loopback server), over the same call made
     from the host straight to the server;
  2. a 400 kB answer streamed in 8-character deltas (50,000 events: the relay and the meter).

Both calls are made by the same stdlib client (in the container's Python, and the host's), so
the difference is the path. Usage: python benchmarks/egress_bench.py [--runs 15]
Needs a running Docker engine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness.config.schema import SandboxConfig
from harness.fakes.anthropic_server import AnthropicHandler, text
from harness.fakes.loopback import LoopbackServer
from harness.sandbox.engine import connect
from harness.sandbox.session import TicketSpec, ticket_sandbox
from harness.vendors.egress import anthropic_tap
from harness.vendors.types import EgressRoute

ROOT = Path(__file__).resolve().parents[1]
# Times N calls to URL in one process (so interpreter start-up is not measured); prints medians.
CLIENT = """\
import json, sys, time, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
body = json.dumps({"model": "claude-bench", "max_tokens": 10, "stream": True,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
times = []
for _ in range(n):
    start = time.perf_counter()
    req = urllib.request.Request(url + "/v1/messages", data=body, method="POST",
                                 headers={"content-type": "application/json", "x-api-key": "k"})
    with urllib.request.urlopen(req, timeout=60) as r:
        size = len(r.read())
    times.append(time.perf_counter() - start)
times.sort()
print(times[len(times) // 2], size)
"""


def repo(path: Path) -> Path:
    path.mkdir()
    for cmd in (["init", "-q"], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q",
                                  "--allow-empty", "-m", "base"]):
        subprocess.run(["git", "-C", str(path), *cmd], check=True)
    return path


def host_call(url: str, runs: int) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", CLIENT, url, str(runs)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    client = connect()
    with tempfile.TemporaryDirectory(prefix="egress-bench-") as tmp, \
            LoopbackServer(AnthropicHandler) as server:
        spec = TicketSpec(repo=repo(Path(tmp) / "repo"), run_dir=Path(tmp) / "run",
                          run_id=uuid.uuid4().hex[:8], ticket="BENCH", network="proxy")
        route = EgressRoute("bench", server.url, {"x-api-key": "real"},
                            (("POST", r"/v1/messages"),), anthropic_tap)
        with ticket_sandbox(client, SandboxConfig(), spec, config_dir=ROOT,
                            progress=lambda _: None) as sandbox:
            rows = []
            for label, reply in (("small call", "pong"), ("400 kB streamed answer", "x" * 400_000)):
                server.queue(*[text(reply)] * (2 * args.runs))
                direct, size = host_call(server.url, args.runs)
                with sandbox.egress(route) as link:
                    started = time.perf_counter()
                    out = sandbox.exec(["python3", "-c", CLIENT, link.base_url, str(args.runs)],
                                       timeout=600).stdout.split()
                    wall = time.perf_counter() - started
                proxied = float(out[0])
                metered = sum(e.usage.output_tokens for e in link.exchanges())
                rows.append((label, proxied, direct, size, metered, wall))
    print(f"{'':24s} {'proxied':>10s} {'direct':>10s} {'ratio':>7s}  bytes/answer  metered")
    for label, proxied, direct, size, metered, _ in rows:
        print(f"{label:24s} {proxied * 1000:8.1f}ms {direct * 1000:8.1f}ms "
              f"{proxied / direct:6.2f}x  {size:12d}  {metered} output tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
