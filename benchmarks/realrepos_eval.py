#!/usr/bin/env python3
"""Two configs compared on the real-repository instances with a scripted model (no vendor): the
Planner plans the fix's source files, the Coder writes them as the fix has them. The configs
differ only in the Coder's model, so in price; the table's costs must be the run directories'.

Usage: python benchmarks/realrepos_eval.py --mirrors /work/.mirror --out DIR [--only NAME ...]
(run benchmarks/realrepos_instances.py first: it writes DIR/instances.jsonl and DIR/stages.yaml)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from realrepos import TEST_FILE, git
from ruamel.yaml import YAML

from harness.eval.instances import RepoSource, load_instances
from harness.eval.run import EvalSpec, render, run_eval
from harness.sandbox.engine import connect
from harness.stages import load_plan
from harness.vendors.scripted import Reply, register_script
from harness.vendors.types import ModelRequest


def _files(patch: str) -> list[str]:
    return [ln.split(" b/", 1)[1] for ln in patch.splitlines() if ln.startswith("diff --git ")]


def scripts(fixed: dict[str, dict[str, str]]) -> None:
    """``fixed``: instance id -> the fix's source files (path -> content)."""

    def ticket(request: ModelRequest) -> str:
        text = request.messages[0].text
        return next(i for i in fixed if f"# {i}:" in text)

    def planner(request: ModelRequest) -> Reply:
        files = sorted(fixed[ticket(request)])
        return Reply("", [("submit_manifest", {"summary": "apply the fix", "sub_tickets": [{
            "id": "S1", "title": "the fix", "files": files,
            "operations": [{"op": "modify", "path": p} for p in files]}]})])

    def coder(request: ModelRequest) -> Reply:
        if any(m.tool_results for m in request.messages):
            return Reply("", [("finish", {"summary": "done"})])
        return Reply("", [("write_file", {"path": p, "content": text})
                          for p, text in fixed[ticket(request)].items()])

    register_script("realrepos-planner", planner)
    register_script("realrepos-coder", coder)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    found = [i for i in load_instances(args.out / "instances.jsonl")
             if not args.only or i.instance_id in args.only]
    source = RepoSource(repos=args.mirrors, repo=None, scratch=args.out / "eval" / ".repos")
    fixed = {}
    for inst in found:
        clone, fix = source.path(inst), inst.extras()["fix_commit"]
        fixed[inst.instance_id] = {p: git(clone, "show", f"{fix}:{p}")
                                   for p in _files(inst.patch) if not TEST_FILE.search(p)}
    scripts(fixed)
    sandbox = YAML(typ="safe").load((args.out / "stages.yaml").read_text())["sandbox"]
    configs = []
    for model in ("sonnet", "opus"):
        path = args.out / f"coder-{model}.yaml"
        path.write_text(json.dumps({
            "planner": {"vendor": "scripted", "model": "opus", "timeout": "120s",
                        "vendor_options": {"script": "realrepos-planner"}},
            "coder": {"vendor": "scripted", "model": model, "timeout": "120s",
                      "vendor_options": {"script": "realrepos-coder"}},
            "sandbox": sandbox}, indent=1))
        configs.append(path)
    spec = EvalSpec(found, args.out / "eval", source, load_plan(configs[0]).config.sandbox,
                    args.out, configs, workers=args.workers)
    result = run_eval(spec, connect())
    print(render(result))
    for label, rows in result.rows.items():
        runs = [json.loads((args.out / "eval" / label / r["run_dir"] / "run.json").read_text())
                for r in rows if r.get("run_dir")]
        print(f"{label}: run.json totals ${sum(s['totals']['cost_usd'] for s in runs):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
