#!/usr/bin/env python3
"""Sandbox benchmarks on a generated TypeScript monorepo, each a ratio of two timings taken side
by side in one run (medians), so machine speed cancels out:

  1. sandbox ready (lease, gc, image checks, worktree, container up) / `docker run --rm IMG true`
  2. a file-tool call (read_file) / `docker exec C true`
  3. second ticket's dependency install on the same lockfile (seconds; goal 0)
  4. affected tests for a one-package change / the full suite

Usage: python benchmarks/sandbox_bench.py [--lines 100000] [--packages 40] [--runs 5]
Needs a running Docker engine and the npm registry (for the fixture's lockfile and `npm ci`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from pathlib import Path

from harness.config.schema import SandboxConfig
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.engine import connect
from harness.sandbox.image import dependency_image, sandbox_image
from harness.sandbox.session import TicketSpec, ticket_sandbox
from harness.sandbox.testrun import run_tests
from harness.sandbox.workspace import create_workspace, remove_workspace

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generate(out: Path, lines: int, packages: int) -> Path:
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-monorepo.py"), "--out", str(out),
                    "--lines", str(lines), "--packages", str(packages), "--seed", "7",
                    "--lockfile", "--git"], check=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--packages", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cfg = SandboxConfig(test_command="npm test", affected_test_command="npm test -w "
                        "{changed_packages}", exec_timeout="30m")
    client = connect()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        repo = generate(Path(tmp) / "mono", args.lines, args.packages)
        base = sandbox_image(client, cfg, config_dir=ROOT, progress=lambda _: None)

        # 3. dependency image: a fresh lockfile installs once; the second ticket reuses it.
        ws = create_workspace(repo, Path(tmp) / "deps-ws")
        try:
            first = median_seconds(
                lambda: dependency_image(client, base, ws.path, cfg, lambda _: None), 1)
            second = median_seconds(
                lambda: dependency_image(client, base, ws.path, cfg, lambda _: None), args.runs)
        finally:
            remove_workspace(ws)
        deps = dependency_image(client, base, repo, cfg, lambda _: None)

        # 1. ready vs docker run --rm IMG true
        docker_run = median_seconds(lambda: subprocess.run(
            ["docker", "run", "--rm", deps.id, "true"], check=True), args.runs)

        ready_times = []
        for _ in range(args.runs):  # the context exit (cleanup) is not part of "ready"
            run_id = uuid.uuid4().hex[:8]
            spec = TicketSpec(repo=repo, run_dir=Path(tmp) / f"run-{run_id}", run_id=run_id,
                              ticket="bench")
            with ExitStack() as stack:
                start = time.perf_counter()
                stack.enter_context(ticket_sandbox(client, cfg, spec, config_dir=ROOT,
                                                   progress=lambda _: None))
                ready_times.append(time.perf_counter() - start)
        sandbox_ready = statistics.median(ready_times)
        checkout_times = []
        for i in range(args.runs):
            start = time.perf_counter()
            ws = create_workspace(repo, Path(tmp) / f"checkout-{i}")
            checkout_times.append(time.perf_counter() - start)
            remove_workspace(ws)
        checkout = statistics.median(checkout_times)

        run_id = uuid.uuid4().hex[:8]
        spec = TicketSpec(repo=repo, run_dir=Path(tmp) / f"run-{run_id}", run_id=run_id,
                          ticket="bench")
        with ticket_sandbox(client, cfg, spec, config_dir=ROOT, progress=lambda _: None) as sb:
            # 2. file tool vs docker exec C true
            exec_true = median_seconds(lambda: subprocess.run(
                ["docker", "exec", str(sb.container.id), "true"], check=True), args.runs)
            target = sb.list_files("packages", limit=1)[0]
            read = median_seconds(lambda: sb.read_file(target), args.runs)
            supervised = median_seconds(lambda: sb.exec(["true"]), args.runs)
            frozen_diff, open_diff = _diffs(sb, target, args.runs)
            # 4. affected (one package changed) vs full suite
            full, affected = _tests(sb, cfg)

    rows = [
        ("sandbox ready / docker run --rm IMG true", sandbox_ready, docker_run, 1.5),
        ("read_file / docker exec C true", read, exec_true, 1.5),
        ("affected tests (1 package) / full suite", affected, full, 0.25),
        ("diff, container frozen / diff unfrozen", frozen_diff, open_diff, 1.5),
    ]
    print(f"fixture: {args.lines} lines, {args.packages} packages; medians of {args.runs}")
    for name, a, b, goal in rows:
        print(f"{name:45s} {a:8.3f}s / {b:8.3f}s = {a / b:6.3f}x  (goal <= {goal}x)")
    print(f"{'dependency install: first ticket':45s} {first:8.3f}s")
    print(f"{'dependency install: second ticket':45s} {second:8.3f}s  (goal 0 s: nothing runs)")
    print(f"{'(info) exec true through the supervisor':45s} {supervised:8.3f}s")
    print(f"{'(info) worktree checkout alone':45s} {checkout:8.3f}s  (overlapped with the "
          "container start)")
    return 0


def _diffs(sb: DockerSandbox, target: str, runs: int) -> tuple[float, float]:
    """Host git under the container freeze vs the same diff with nothing frozen."""
    sb.write_file(target, sb.read_file(target) + "\n// changed\n")
    frozen = median_seconds(sb.diff, runs)
    unfrozen = median_seconds(replace(sb.workspace, quiesce=nullcontext).diff, runs)
    sb.reset()
    return frozen, unfrozen


def _tests(sb: DockerSandbox, cfg: SandboxConfig) -> tuple[float, float]:
    sb.exec("npx tsc -b", timeout=1800)  # compile once so both runs pay only incremental builds
    start = time.perf_counter()
    full = run_tests(sb, cfg, "full")
    full_s = time.perf_counter() - start
    if not full.passed:
        raise SystemExit(f"the fixture's full suite failed:\n{full.feedback()}")
    pkg = sorted(p for p in sb.list_files("packages", limit=100_000) if p.endswith(".ts")
                 and "/src/" in p and not p.endswith(".test.ts"))[0]
    sb.write_file(pkg, sb.read_file(pkg) + "\n// touched by the benchmark\n")
    start = time.perf_counter()
    affected = run_tests(sb, cfg, "affected")
    affected_s = time.perf_counter() - start
    assert affected.scope == "affected", affected.command
    return full_s, affected_s


if __name__ == "__main__":
    raise SystemExit(main())
