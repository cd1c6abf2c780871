#!/usr/bin/env python3
"""Fault soak: a batch of tickets through real vendor SDKs against loopback servers that inject
seeded faults (429 with retry-after, 500/529, a hang past the stage timeout, a malformed body, a
stream dropped mid-way), with containers killed mid-test (`docker kill`) and the batch itself
killed (`kill -9`) and resumed. Then `harness gc`, and the books are checked:

  tickets lost          no row in results.jsonl
  orphan containers     a container of one of the soak's runs still exists
  orphan workspaces     a run directory that still holds its workspace tree or its private git
                        directory, or a git worktree left registered in the repository
  left running          run.json files whose status is still `running`
  key occurrences       the API keys, anywhere in the runs directory
  unexpected exceptions crash.txt in a run directory, or a command's crash file

Every stage has a fallback on the other vendor. With ``--outage anthropic:START-END`` (or
google), that vendor answers every request with its overloaded status from START to END seconds
after the soak starts: tickets must still resolve through the fallbacks, none lost.

Goal: 0 for each. Exit 0 when met.

Usage: python benchmarks/soak.py [--tickets 50] [--workers 4] [--seed 14] [--fault-rate 0.15]
                                 [--container-kills 3] [--kill-batch-at 0.4] [--keep DIR]
                                 [--outage VENDOR:START-END]
Needs a running Docker engine (and the sandbox image, built on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import docker
from soak_vendors import KINDS, Faults, FaultyAnthropic, FaultyGemini, Outage

from harness.fakes.loopback import LoopbackServer
from harness.runs.batch import finished_rows
from harness.sandbox.docker_sandbox import LABEL_RUN_DIR
from harness.sandbox.engine import connect

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"ANTHROPIC_API_KEY": "sk-ant-api03-soak" + "S0ak" * 10,
        "GEMINI_API_KEY": "AIza" + "SoakSoak" * 4}
SOURCE = 'exports.slugify = (t) => t.toLowerCase().replace(/ /g, "-");\n'
TEST = ('const { test } = require("node:test");\nconst assert = require("node:assert");\n'
        'const { slugify } = require("../src/slug");\n'
        'test("joins words", () => assert.strictEqual(slugify("A b"), "a-b"));\n'
        'test("trims dashes", () => assert.strictEqual(slugify(" Hi, you! "), "hi-you"));\n')
STAGE_TIMEOUT = "12s"  # what a hang costs: one attempt


def stages(anthropic: str, gemini: str) -> str:
    to_google = f'{{vendor: google, model: gemini-flash, base_url: "{gemini}"}}'
    return f"""\
planner: {{vendor: anthropic, model: opus, timeout: {STAGE_TIMEOUT}, retry_budget: 2,
          base_url: "{anthropic}", fallback: {{vendor: google, model: gemini-pro,
          base_url: "{gemini}"}}}}
coder: {{vendor: anthropic, model: sonnet, timeout: {STAGE_TIMEOUT}, retry_budget: 2,
        on_retry: {{compute: increased}}, base_url: "{anthropic}", fallback: {to_google}}}
reviewer: {{vendor: google, model: gemini-flash, timeout: {STAGE_TIMEOUT}, retry_budget: 2,
           base_url: "{gemini}", fallback: {{vendor: anthropic, model: sonnet,
           base_url: "{anthropic}"}}}}
sandbox:
  test_command: node --test test/
"""


def outage(text: str | None) -> Outage | None:
    """``anthropic:30-90`` -> that vendor down from 30 s to 90 s after the start."""
    if not text:
        return None
    vendor, _, window = text.partition(":")
    start, _, end = window.partition("-")
    if vendor not in ("anthropic", "google") or not start or not end:
        raise SystemExit(f"--outage {text}: write VENDOR:START-END, e.g. anthropic:20-120")
    return Outage(vendor, float(start), float(end))


def served(states: list[dict[str, object]]) -> Counter[str]:
    """Turns answered, by who answered them: ``anthropic``, or ``google (fallback)``."""
    tally: Counter[str] = Counter()
    for state in states:
        for attempt in state.get("attempts") or []:  # type: ignore[attr-defined]
            for part in attempt.get("served") or []:
                tag = part["vendor"] + (" (fallback)" if part["fallback"] else "")
                tally[tag] += int(part["turns"])
    return tally


def make_repo(path: Path) -> Path:
    (path / "src").mkdir(parents=True)
    (path / "test").mkdir()
    (path / "src" / "slug.js").write_text(SOURCE)
    (path / "test" / "slug.test.js").write_text(TEST)
    env = ["-c", "user.name=soak", "-c", "user.email=soak@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*env, "commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(path), *args], check=True)
    return path


def batch(root: Path, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (root / "batch.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-c", "from harness.cli import main; main()", "batch",
         str(root / "tickets.jsonl"), "--repo", str(root / "repo"), "-c",
         str(root / "stages.yaml"), "--runs-dir", str(root / "runs"), "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


class ContainerKiller(threading.Thread):
    """`docker kill`s a soak container while its tests run, ``count`` times, at seeded
    moments."""

    def __init__(self, client: docker.DockerClient, runs: Path, count: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.client, self.runs, self.count = client, str(runs), count
        self.dice = random.Random(f"{seed}:kill")
        self.killed: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while len(self.killed) < self.count and not self.stop.wait(0.1):
            for summary in self.client.api.containers(filters={"label": LABEL_RUN_DIR}):
                if not (summary.get("Labels") or {}).get(LABEL_RUN_DIR, "").startswith(
                        self.runs):
                    continue
                try:
                    top = self.client.api.top(summary["Id"])
                except docker.errors.APIError:
                    continue
                testing = any("node" in " ".join(p) and "--test" in " ".join(p)
                              for p in top.get("Processes") or [])
                if testing and self.dice.random() < 0.5:
                    try:
                        self.client.api.kill(summary["Id"])
                    except docker.errors.APIError:
                        continue
                    self.killed.append(str(summary["Id"])[:12])
                    break


def wait_for_rows(runs: Path, n: int, proc: subprocess.Popen[bytes]) -> None:
    while len(finished_rows(runs)) < n and proc.poll() is None:
        time.sleep(0.2)


def books(root: Path, client: docker.DockerClient, tickets: list[str]) -> dict[str, object]:
    runs = root / "runs"
    rows = finished_rows(runs)
    run_dirs = [p for p in runs.iterdir() if p.is_dir()]
    states = [json.loads((p / "run.json").read_text()) for p in run_dirs
              if (p / "run.json").exists()]
    containers = [c for c in client.api.containers(all=True, filters={"label": LABEL_RUN_DIR})
                  if (c.get("Labels") or {}).get(LABEL_RUN_DIR, "").startswith(str(runs))]
    worktrees = subprocess.run(["git", "-C", str(root / "repo"), "worktree", "list"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    secrets = [k.encode() for k in KEYS.values()]
    found = sum(path.read_bytes().count(s) for path in runs.rglob("*") if path.is_file()
                for s in secrets)
    return {
        "lost": [t for t in tickets if t not in rows],
        "statuses": Counter(str(rows[t]["status"]) for t in tickets if t in rows),
        "run_statuses": Counter(str(s.get("status")) for s in states),
        "orphan_containers": len(containers),
        "orphan_workspaces": sum(1 for p in run_dirs for name in ("workspace", ".workspace.git")
                                 if (p / name).exists()) + len(worktrees) - 1,
        "left_running": sum(1 for s in states if s.get("status") == "running"),
        "key_occurrences": found,
        "crashes": sum(1 for p in run_dirs if (p / "crash.txt").exists())
        + len(list((root / "home" / "crashes").glob("*"))),
        "served": served(states),
    }


def print_outage(down: Outage | None, turns: Counter[str]) -> None:
    if down is not None:
        print(f"{'outage':28s} {down.vendor} from {down.start:g}s to {down.end:g}s: "
              f"{down.refused} requests answered overloaded")
    print(f"{'turns served':28s} " + ", ".join(f"{s} {n}" for s, n in sorted(turns.items())))


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--fault-rate", type=float, default=0.15,
                        help="The share of model requests answered with a fault.")
    parser.add_argument("--container-kills", type=int, default=3)
    parser.add_argument("--kill-batch-at", type=float, default=0.4,
                        help="kill -9 the batch once this share of tickets has a row.")
    parser.add_argument("--keep", type=Path, default=None, help="Work here and keep it.")
    parser.add_argument("--outage", default=None, help="VENDOR:START-END: that vendor answers "
                        "every request overloaded from START to END seconds after the start.")
    return parser.parse_args()


def main() -> int:
    args = arguments()
    down = outage(args.outage)
    root = args.keep or Path(tempfile.mkdtemp(prefix="harness-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    make_repo(root / "repo")
    tickets = [f"SOAK-{i:03d}" for i in range(args.tickets)]
    (root / "tickets.jsonl").write_text("".join(json.dumps(
        {"id": t, "title": "slugify must trim dashes", "body": 'slugify(" Hi, you! ") must be '
         '"hi-you".'}) + "\n" for t in tickets))
    faults = Faults(args.seed, args.fault_rate)
    client = connect()
    started = time.monotonic()
    anthropic = type("SoakAnthropic", (FaultyAnthropic,), {"faults": faults, "outage": down})
    gemini = type("SoakGemini", (FaultyGemini,), {"faults": faults, "outage": down})
    if down is not None:
        down.begin()
    with LoopbackServer(anthropic) as ant, LoopbackServer(gemini) as goo:
        (root / "stages.yaml").write_text(stages(ant.url, goo.url))
        env = {**os.environ, **KEYS, "HARNESS_HOME": str(root / "home")}
        killer = ContainerKiller(client, root / "runs", args.container_kills, args.seed)
        killer.start()
        first = batch(root, args.workers, env)
        wait_for_rows(root / "runs", int(args.tickets * args.kill_batch_at), first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        at_kill = len(finished_rows(root / "runs"))
        second = batch(root, args.workers, env)
        second.wait()
        killer.stop.set()
        killer.join()
    subprocess.run([sys.executable, "-c", "from harness.cli import main; main()", "gc"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    wall = time.monotonic() - started
    got = books(root, client, tickets)
    print(f"soak: {args.tickets} tickets, {args.workers} workers, seed {args.seed}, fault rate "
          f"{args.fault_rate:.0%} of model requests, stage timeout {STAGE_TIMEOUT}; "
          f"{wall:.0f}s; {root}")
    faults_line = ", ".join(f"{k} {faults.injected[k]}" for k in KINDS)
    print(f"{'faults injected':28s} {faults_line}; container killed mid-test "
          f"{len(killer.killed)}; batch kill -9 1 (after {at_kill} rows), then resumed")
    print_outage(down, got["served"])  # type: ignore[arg-type]
    print(f"{'tickets by status':28s} " + ", ".join(
        f"{s} {n}" for s, n in sorted(got["statuses"].items())))  # type: ignore[attr-defined]
    print(f"{'run directories by status':28s} " + ", ".join(
        f"{s} {n}" for s, n in sorted(got["run_statuses"].items())))  # type: ignore[attr-defined]
    lost = got["lost"]
    figures = {"tickets lost (no row)": len(lost),  # type: ignore[arg-type]
               "orphan containers": got["orphan_containers"],
               "orphan workspaces": got["orphan_workspaces"],
               "run.json left running": got["left_running"],
               "API key occurrences": got["key_occurrences"],
               "unexpected exceptions": got["crashes"]}
    for name, value in figures.items():
        print(f"{name:28s} {value}")
    if lost:
        print(f"lost: {', '.join(lost)}")  # type: ignore[arg-type]
    met = all(v == 0 for v in figures.values())
    print(f"goal all 0: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
