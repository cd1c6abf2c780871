#!/usr/bin/env python3
"""benchmarks/data/realrepos.yaml as SWE-bench-style instances for ``harness eval``: per entry,
``base_commit`` is the fix's parent, ``patch`` the fix's source files, ``test_patch`` its test
files (hidden from the agent), FAIL_TO_PASS the entry's tests. PASS_TO_PASS is left null: the
grading then asks that no test fail that did not fail at the base commit (the suite's baseline).
The entry's test command and Node pin ride along (``test_command``, ``node``).

Also writes a stages file whose sandbox section grades as benchmarks/realrepos.py runs them
(memory, pids, timeouts, output limit).

Usage: python benchmarks/realrepos_instances.py --mirrors /work/.mirror --out DIR
       harness eval DIR/instances.jsonl --gold --repos /work/.mirror -c DIR/stages.yaml
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from realrepos import TEST_FILE, Case, load, sandbox_cfg

from harness.sandbox.hostgit import hardened_argv, minimal_env

STAGES = """\
planner: {{vendor: anthropic, model: opus, timeout: 300s}}
coder: {{vendor: anthropic, model: sonnet, timeout: 300s}}
sandbox: {sandbox}
"""


def git(mirror: Path, *args: str) -> str:
    """Hardened git on the mirror (read only: rev-parse, diff, log)."""
    argv = hardened_argv(args, git_dir=mirror)
    return subprocess.run(argv, env=minimal_env(mirror), check=True, capture_output=True,
                          text=True).stdout


def instance(case: Case, mirrors: Path) -> dict[str, object]:
    mirror = mirrors / case.repo.replace("/", "+") / "repo"
    parent = git(mirror, "rev-parse", f"{case.fix}^").strip()
    changed = [ln.split("\t")[-1] for ln in git(mirror, "diff", "--name-status", parent,
                                                 case.fix).splitlines()]
    tests = [p for p in changed if TEST_FILE.search(p)]
    sources = [p for p in changed if not TEST_FILE.search(p)]

    def diff(paths: list[str]) -> str:
        return git(mirror, "diff", "--binary", parent, case.fix, "--", *paths) if paths else ""

    message = git(mirror, "log", "-1", "--format=%B", case.fix)
    return {"instance_id": case.name, "repo": case.repo, "base_commit": parent,
            "problem_statement": message, "patch": diff(sources), "test_patch": diff(tests),
            "FAIL_TO_PASS": case.fail_to_pass, "PASS_TO_PASS": None,
            "test_command": case.test_command, "node": case.node, "runner": case.runner,
            "fix_commit": case.fix}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cases = load(args.only)
    rows = [instance(c, args.mirrors) for c in cases]
    (args.out / "instances.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = sandbox_cfg(cases[0]).model_dump(mode="json", exclude_none=True,
                                            include={"memory", "pids_limit", "exec_timeout",
                                                     "setup_timeout", "output_limit"})
    for key in ("exec_timeout", "setup_timeout"):
        cfg[key] = f"{cfg[key]}s"
    (args.out / "stages.yaml").write_text(STAGES.format(sandbox=json.dumps(cfg)))
    print(f"{len(rows)} instances: {args.out / 'instances.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
