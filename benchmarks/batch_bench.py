#!/usr/bin/env python3
"""Batch throughput: wall time of `harness batch` with N workers over the sum of the same
tickets' serial run times, measured side by side in one process with an instant scripted vendor
(so the figure is the harness's own overhead: sandbox start, tests, records). Goal: <= 0.6 with
2 workers on 2 cores.

Usage: python benchmarks/batch_bench.py [--tickets 8] [--workers 2]
Needs a running Docker engine.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from harness.pipeline.ticket import Ticket
from harness.runs.batch import BatchSpec, run_batch
from harness.runs.execute import RunRequest, execute
from harness.runs.tickets import BatchItem
from harness.sandbox.engine import connect
from harness.vendors.scripted import Reply, register_script
from harness.vendors.types import ModelRequest

SOURCE = 'exports.slugify = (t) => t.toLowerCase().replace(/ /g, "-");\n'
FIXED = ('exports.slugify = (t) =>\n'
         '  t.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");\n')
TEST = ('const { test } = require("node:test");\nconst assert = require("node:assert");\n'
        'const { slugify } = require("../src/slug");\n'
        'test("trims", () => assert.strictEqual(slugify(" Hi, you! "), "hi-you"));\n')
MANIFEST = {"summary": "fix", "sub_tickets": [{"id": "S1", "title": "trim", "operations": [
    {"op": "modify", "path": "src/slug.js"}]}]}
STAGES = """\
planner: {vendor: scripted, model: opus, timeout: 30s, vendor_options: {script: bench-planner}}
coder: {vendor: scripted, model: sonnet, timeout: 30s, vendor_options: {script: bench-coder}}
sandbox: {test_command: "node --test test/"}
"""


def planner(request: ModelRequest) -> Reply:
    return Reply("", [("submit_manifest", MANIFEST)])


def coder(request: ModelRequest) -> Reply:
    if any(m.tool_results for m in request.messages):
        return Reply("", [("finish", {"summary": "done"})])
    return Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})])


def make_repo(path: Path) -> Path:
    (path / "src").mkdir(parents=True)
    (path / "test").mkdir()
    (path / "src" / "slug.js").write_text(SOURCE)
    (path / "test" / "slug.test.js").write_text(TEST)
    env = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*env, "commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(path), *args], check=True)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    register_script("bench-planner", planner)
    register_script("bench-coder", coder)
    client = connect()
    with tempfile.TemporaryDirectory(prefix="harness-batch-bench-") as tmp:
        root = Path(tmp)
        repo = make_repo(root / "repo")
        config = root / "stages.yaml"
        config.write_text(STAGES)
        items = [BatchItem(Ticket(id=f"BENCH-{i}", title="trim dashes"))
                 for i in range(args.tickets)]
        execute(RunRequest(items[0].ticket, repo, config, root / "warm"), client=client)
        serial = 0.0
        for item in items:
            start = time.perf_counter()
            result = execute(RunRequest(item.ticket, repo, config, root / "serial"),
                             client=client)
            serial += time.perf_counter() - start
            assert result.status == "resolved", result.detail
        start = time.perf_counter()
        state = run_batch(BatchSpec(items, repo, config, root / "batch", args.workers))
        wall = time.perf_counter() - start
        assert all(r["status"] == "resolved" for r in state.done), state.done
    print(f"{args.tickets} tickets, {args.workers} workers, instant scripted vendor")
    print(f"{'batch wall time / sum of serial runs':45s} {wall:8.3f}s / {serial:8.3f}s = "
          f"{wall / serial:6.3f}x  (goal <= 0.6x)")
    print(f"{'(info) one ticket, serial, mean':45s} {serial / args.tickets:8.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
