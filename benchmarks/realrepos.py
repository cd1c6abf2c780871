#!/usr/bin/env python3
"""Real repositories out of the box: for each entry of benchmarks/data/realrepos.yaml (a public
repository, a historical fix commit, its test command, the tests the fix makes pass), from a
local git copy of the repository:

  1. the ticket's base: the fix's parent with the fix's test files, committed in a scratch clone;
  2. cold build: the repository's dependency image (its installed dependencies, on its Node and
     package manager) when none exists for its lockfile; the Node and package-manager layers,
     shared by every repository on them, are built first and not counted;
  3. warm ready: a ticket's sandbox up when the image exists;
  4. a scripted run (no model) in each of two forms. ``named``: the ticket names the fix's tests
     in ``fail_to_pass``; the Coder first makes a change that does not fix anything, then writes
     the fix's own source files. ``unnamed``: the ticket names none (the user committed the
     failing tests, then filed the ticket); the Planner declares as acceptance tests those of the
     tests listed to it as failing at the base that the fix makes pass, and the Coder's first
     attempt changes nothing, which must not be accepted, then writes the fix. The run's baseline
     is the suite at the base;
  5. the row: repository, form, package manager, runner, Node, cold build, warm ready, suite
     time, target tests named / expected (named: the failing tests the first retry was told;
     unnamed: the tests the Planner declared), the first attempt's outcome, the accepted
     attempt's affected run (the runner's related tests, or the full suite when it has no such
     selection) against its full suite, resolved.

Only facts live in this repository (names, commits, commands, test names); sources, messages and
diffs are read from the copies given by path, which must hold the fix commit:
`--mirrors DIR` (DIR/<owner>+<name>/repo, a bare git directory, as the `fetch` tool leaves them).

Usage: python benchmarks/realrepos.py --mirrors /work/.mirror [--only NAME ...] [--discover]
                                      [--discover-command CMD] [--forms named unnamed] [--warm]
  --discover: print the tests failing at the base and passing at the fix (to fill fail_to_pass).
  --warm: reuse a dependency image already built (a big monorepo's install takes many minutes).
Needs a Docker engine and the npm registry.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
from ruamel.yaml import YAML

from harness.config.schema import SandboxConfig
from harness.pipeline.ticket import Ticket
from harness.runs.execute import RunRequest, execute
from harness.sandbox.baseline import named
from harness.sandbox.engine import connect
from harness.sandbox.image import dependency_image, sandbox_image, toolchain_image, toolchain_of
from harness.sandbox.session import TicketSpec, ticket_sandbox
from harness.sandbox.sources import Commit
from harness.sandbox.testreport import parse_test_output
from harness.sandbox.toolchain import Repo, detect
from harness.vendors.scripted import Reply, register_script
from harness.vendors.types import ModelRequest

FORMS = ("named", "unnamed")
FAILING_AT_BASE = "## Tests that already fail at the base commit"
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "realrepos.yaml"
TEST_FILE = re.compile(r"(^|/)(test|tests|__tests__|spec)/|\.(test|spec)\.[cm]?[jt]sx?$")
GIT_ID = ["-c", "user.name=harness-bench", "-c", "user.email=bench@localhost"]


@dataclass
class Case:
    repo: str
    fix: str
    test_command: str
    fail_to_pass: list[str] = field(default_factory=list)
    node: str | None = None
    runner: str = ""

    @property
    def name(self) -> str:
        return self.repo.split("/")[1] + "-" + self.fix[:7]


@dataclass
class Row:
    case: Case
    form: str = "named"
    manager: str = "-"
    node: str = "-"
    cold: float | None = None
    warm: float | None = None
    suite: float | None = None
    named: int = 0
    first: str = "-"  # the first Coder attempt's outcome
    affected: str = "-"  # the accepted attempt's affected run / full run, in seconds
    resolved: str = "-"
    note: str = ""

    @property
    def ok(self) -> bool:
        """Resolved, and in the unnamed form the no-op first attempt was refused."""
        return self.resolved == "resolved" and (self.form == "named" or self.first == "no_change")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_ID, "-C", str(repo), *args], check=True,
                          capture_output=True, text=True).stdout


def prepare(case: Case, mirrors: Path, work: Path) -> tuple[Path, list[str], str]:
    """A scratch clone whose HEAD is the fix's parent plus the fix's test files (less any file
    whose blob the local copy does not hold: a large binary left out of a partial copy); the
    fix's source files; the base commit."""
    mirror = mirrors / case.repo.replace("/", "+") / "repo"
    clone = work / case.name
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(mirror), str(clone)], check=True)
    git(clone, "checkout", "-q", "--detach", f"{case.fix}^")
    changed = [ln.split("\t") for ln in git(clone, "diff", "--name-status", f"{case.fix}^",
                                            case.fix).splitlines()]
    tests = [p for status, p in changed if TEST_FILE.search(p) and status != "D"]
    sources = [p for status, p in changed if not TEST_FILE.search(p) and status != "D"]
    git(clone, "checkout", "-q", case.fix, "--", *tests)
    absent = git(clone, "ls-files", "--deleted").splitlines()  # blobs the copy lacks (binaries)
    if absent:
        git(clone, "rm", "-q", "--cached", "--", *absent)
    git(clone, "commit", "-q", "-m", f"the tests of {case.fix[:12]}", "--no-verify")
    return clone, sources, git(clone, "rev-parse", "HEAD").strip()


def sandbox_cfg(case: Case) -> SandboxConfig:
    return SandboxConfig(test_command=case.test_command, node=case.node, memory="4g",
                         pids_limit=4096, exec_timeout="900s", setup_timeout="1800s",
                         output_limit=2_000_000)  # node-tap's TAP lists every assertion


def listed_failing(prompt: str) -> list[str]:
    """The tests the Planner's prompt lists as failing at the base commit."""
    section = prompt.partition(FAILING_AT_BASE)[2].split("\n## ", 1)[0]
    return [ln[2:] for ln in section.splitlines()
            if ln.startswith("- ") and not ln.startswith("- … and ")]


def stages(case: Case, clone: Path, sources: list[str], tmp: Path, form: str) -> Path:
    fixed = {p: git(clone, "show", f"{case.fix}:{p}") for p in sources}
    manifest = {"summary": "apply the fix", "sub_tickets": [{
        "id": "S1", "title": "the fix", "files": sources,
        "operations": [{"op": "modify", "path": p} for p in sources]}]}

    def planner(request: ModelRequest) -> Reply:
        listed = listed_failing(request.messages[0].text)
        declared = [n for n in listed if any(named(f, [n]) for f in case.fail_to_pass)]
        return Reply("", [("submit_manifest", {**manifest, "acceptance_tests": declared})])

    def coder(request: ModelRequest) -> Reply:
        if any(m.tool_results for m in request.messages):
            return Reply("", [("finish", {"summary": "done"})])
        if "Your previous attempt failed" in request.messages[0].text:
            return Reply("", [("write_file", {"path": p, "content": text})
                              for p, text in fixed.items()])
        if form == "unnamed":  # changes nothing: the failures the baseline forgives remain
            return Reply("", [("finish", {"summary": "nothing needed"})])
        first = sources[0]  # a change that fixes nothing: the tests still fail
        wrong = git(clone, "show", f"HEAD:{first}") + "\n// first attempt\n"
        return Reply("", [("write_file", {"path": first, "content": wrong})])

    names = {}
    for role, fn in (("planner", planner), ("coder", coder)):
        names[role] = f"bench-{role}-{uuid.uuid4().hex[:8]}"
        register_script(names[role], fn)
    cfg = sandbox_cfg(case).model_dump(mode="json", exclude_none=True)
    for key in ("exec_timeout", "setup_timeout"):
        cfg[key] = f"{cfg[key]}s"
    config = {
        "planner": {"vendor": "scripted", "model": "opus", "timeout": "60s",
                    "vendor_options": {"script": names["planner"]}},
        "coder": {"vendor": "scripted", "model": "sonnet", "timeout": "60s", "retry_budget": 1,
                  "vendor_options": {"script": names["coder"]}},
        "sandbox": cfg}
    path = tmp / f"{case.name}-stages.yaml"
    path.write_text(json.dumps(config, indent=1))
    return path


def measure(case: Case, mirrors: Path, work: Path, client: docker.DockerClient,
            forms: list[str], *, warm: bool = False) -> list[Row]:
    row = Row(case)
    clone, sources, base = prepare(case, mirrors, work)
    cfg = sandbox_cfg(case)
    chain = detect(Repo.read(Commit(clone, base)), node=cfg.node)
    row.manager = chain.manager.value.split("+")[0]
    image = sandbox_image(client, cfg, config_dir=ROOT, progress=lambda _: None)
    toolchain_image(client, image, chain, cfg, lambda _: None)  # shared layers: not counted
    started = time.monotonic()
    deps = dependency_image(client, image, Commit(clone, base), cfg, lambda _: None)
    # cold means no image for this lockfile: take it away and build again (unless --warm)
    if deps.reused and not warm:
        client.images.remove(deps.id, force=True)
        started = time.monotonic()
        deps = dependency_image(client, image, Commit(clone, base), cfg, lambda _: None)
    row.cold = None if deps.reused else time.monotonic() - started
    row.node = str(toolchain_of(deps).get("node", "system"))
    run_dir = work / f"{case.name}-ready"
    started = time.monotonic()
    with ticket_sandbox(client, cfg, TicketSpec(clone, run_dir, run_dir.name, "ready"),
                        config_dir=ROOT, progress=lambda _: None):
        row.warm = time.monotonic() - started
    return [scripted_run(Row(**{**row.__dict__, "form": form}), clone, sources, base,
                         work=work, client=client) for form in forms]


def scripted_run(row: Row, clone: Path, sources: list[str], base: str, *, work: Path,
                 client: docker.DockerClient) -> Row:
    case = row.case
    ticket = Ticket(id=case.name, title=git(clone, "log", "-1", "--format=%s", case.fix)[:200],
                    body=git(clone, "log", "-1", "--format=%b", case.fix),
                    fail_to_pass=case.fail_to_pass if row.form == "named" else [])
    result = execute(RunRequest(ticket, clone, stages(case, clone, sources, work, row.form),
                                work / "runs", base=base), client=client)
    state = json.loads((result.run_dir / "run.json").read_text())
    row.resolved = result.status
    row.suite = (state.get("baseline") or {}).get("duration")
    row.first = next((a["outcome"] for a in state.get("attempts", [])
                      if a["stage"] == "coder"), "-")
    events = [json.loads(ln) for ln in (result.run_dir / "events.jsonl").open()]
    tests = [e for e in events if e["event"] == "tests"]
    told = next((e["failing"] for e in tests if not e["passed"]), [])  # the first retry's
    last = [e for e in tests if e["label"] == tests[-1]["label"]] if tests else []
    runs = {e["scope"]: e.get("seconds") for e in last}
    if "affected" in runs and "full" in runs:
        row.affected = f"{runs['affected']:.1f} s / {runs['full']:.1f} s"
    elif "full" in runs:
        row.affected = "full only"
    target = (state.get("target") or {}).get("tests") or []
    row.named = sum(1 for n in case.fail_to_pass if named(n, told if row.form == "named"
                                                             else target))
    if not row.ok:
        row.note = result.detail[:300]
    return row


def discover(case: Case, mirrors: Path, work: Path, client: docker.DockerClient,
             command: str | None = None) -> None:
    """The tests failing at the base that pass at the fix: fail_to_pass for the data file
    (``command``: a narrower one than the test command, e.g. the fix's package alone)."""
    clone, sources, base = prepare(case, mirrors, work)
    cfg = sandbox_cfg(case)
    image = sandbox_image(client, cfg, config_dir=ROOT, progress=print)
    dependency_image(client, image, Commit(clone, base), cfg, print)
    found = {}
    for label in ("base", "fix"):
        run_dir = work / f"{case.name}-{label}"
        spec = TicketSpec(clone, run_dir, run_dir.name, label)
        with ticket_sandbox(client, cfg, spec, config_dir=ROOT, progress=print) as sandbox:
            if label == "fix":
                for p in sources:
                    sandbox.write_file(p, git(clone, "show", f"{case.fix}:{p}"))
            sandbox.exec(["python3", "/opt/harness/link_deps.py"])
            result = sandbox.exec(command or case.test_command)
            report = parse_test_output(result.stdout, result.stderr, result.exit_code)
            found[label] = report
            print(f"{label}: {result.summary()} format={report.format} passed={report.passed}"
                  f" failed={[t.name for t in report.failing]}")
            if report.format == "raw":
                print(result.stdout[-3000:], result.stderr[-3000:])
    fixed = {t.name for t in found["fix"].failing}
    print("fail_to_pass:", [t.name for t in found["base"].failing if t.name not in fixed])


def table(rows: list[Row]) -> str:
    def secs(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f} s"

    lines = ["| repository @ fix | form | package manager | runner | Node | cold build | "
             "warm ready | suite | target tests named / expected | first attempt | "
             "affected / full | resolved |",
             "| --- | --- | --- | --- | --- | ---: | ---: | ---: | :---: | --- | --- | --- |"]
    for r in rows:
        c = r.case
        lines.append(f"| {c.repo} @ {c.fix[:7]} | {r.form} | {r.manager} | {c.runner} | "
                     f"{r.node} | {secs(r.cold)} | {secs(r.warm)} | {secs(r.suite)} | "
                     f"{r.named} / {len(c.fail_to_pass)} | {r.first} | {r.affected} | "
                     f"{r.resolved} |")
    return "\n".join(lines)


def load(only: list[str]) -> list[Case]:
    cases = [Case(**entry) for entry in YAML(typ="safe").load(DATA.read_text())]
    return [c for c in cases if not only or c.name in only or c.repo in only]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=[])
    parser.add_argument("--discover", action="store_true")
    parser.add_argument("--discover-command", help="with --discover: run this instead")
    parser.add_argument("--forms", nargs="+", choices=FORMS, default=list(FORMS))
    parser.add_argument("--warm", action="store_true",
                        help="reuse an existing dependency image (no cold build measured)")
    args = parser.parse_args()
    client = connect()
    rows = []
    with tempfile.TemporaryDirectory(prefix="harness-realrepos-") as tmp:
        for case in load(args.only):
            work = Path(tmp) / case.name
            work.mkdir()
            if args.discover:
                discover(case, args.mirrors, work, client, args.discover_command)
                continue
            try:
                measured = measure(case, args.mirrors, work, client, args.forms,
                                   warm=args.warm)
            except Exception as exc:  # one repository's failure is a row, not the end
                measured = [Row(case, resolved="error",
                                note=f"{type(exc).__name__}: {exc}"[:500])]
            rows += measured
            for row in measured:
                print(table([row]).splitlines()[-1] + (f"  {row.note}" if row.note else ""),
                      flush=True)
    if rows:
        print("\n" + table(rows))
    return 0 if args.discover or all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
