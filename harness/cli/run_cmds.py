"""``harness run`` and ``harness demo``: a ticket through the pipeline, shown as it goes."""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.status import Status

from harness.calibration.project import data_home
from harness.cli.repo_paths import check_repo_paths, trust_options
from harness.cli.tracing import run_tracer
from harness.runs.execute import RunRequest, RunResult, execute

_OK = {"passed", "accepted", "approved"}


class LiveDisplay:
    """Prints each stage attempt, its tests and the run's running token and cost totals; while
    an attempt runs, a status line shows the run's tokens and cost growing with every call."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.tokens = 0
        self.cost = 0.0
        self._status: Status | None = None
        self._label = ""

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _refresh(self) -> None:
        if self._status is not None:
            self._status.update(f"{self._label} · run so far {self.tokens:,} tokens "
                                f"${self.cost:.4f}")

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(data)

    def _on_meter(self, d: dict[str, Any]) -> None:
        self.tokens, self.cost = int(d["tokens"]), float(d["cost_usd"])
        self._refresh()

    def _on_attempt_start(self, d: dict[str, Any]) -> None:
        self.console.print(f"[bold]▶ {d['label']}[/]  tier [cyan]{d['tier']}[/]  "
                           f"{d['model']} via {d['vendor']}")
        self._label = str(d["label"])
        if self._status is None:
            self._status = self.console.status("")
            self._status.start()
        self._refresh()

    def _on_tool(self, d: dict[str, Any]) -> None:
        if self.verbose:
            self.console.print(f"    · {d['call']}", markup=False)

    def _on_baseline(self, d: dict[str, Any]) -> None:
        failing = d.get("failing") or []
        where = "cached" if d.get("cached") else "measured"
        self.console.print(f"    baseline ({where}): {len(failing)} test(s) fail at the base "
                           f"commit" + (f" — {escape(', '.join(failing))}" if failing else ""))
        if d.get("warning"):
            self.console.print(f"    [yellow]{escape(d['warning'])}[/]")

    def _on_target(self, d: dict[str, Any]) -> None:
        tests = d.get("tests") or []
        named = escape(", ".join(tests)) if tests else "none"
        self.console.print(f"    target tests: {named} — {escape(str(d.get('why', '')))}")

    def _on_tests(self, d: dict[str, Any]) -> None:
        verdict = "[green]passed[/]" if d["passed"] else "[red]failed[/]"
        failing = f" — failing: {escape(', '.join(d['failing']))}" if d["failing"] else ""
        self.console.print(f"    tests ({d['scope']}): {verdict}{failing}")

    def _on_attempt_end(self, d: dict[str, Any]) -> None:
        self.close()
        mark = "[green]✓[/]" if d["outcome"] in _OK else "[yellow]✗[/]"
        self.console.print(f"    {mark} {d['outcome']}  {d['tokens']:,} tokens  "
                           f"${d['cost_usd']:.4f}   run so far: {self.tokens:,} tokens "
                           f"${self.cost:.4f}")

    def _on_routed(self, d: dict[str, Any]) -> None:
        self.console.print(f"[magenta]↪ debugger: {escape(str(d['failing']))} failed; the fix "
                           f"goes to {escape(str(d['owner']))}[/] — {escape(d['root_cause'])}")

    def _on_decomposition(self, d: dict[str, Any]) -> None:
        self.console.print(f"    decomposition: {d['sub_tickets']} sub-tickets, chain depth "
                           f"{d['chain_depth']}, {d['operations']} operations")


def report(console: Console, result: RunResult) -> None:
    colour = "green" if result.status == "resolved" else "red"
    console.print(f"\n[bold {colour}]{result.status}[/]"
                  + (f": {escape(result.detail.splitlines()[0])}" if result.detail else ""))
    console.print(f"run directory: {result.run_dir}")
    if result.patch.exists():
        console.print(f"patch:         {result.patch}")
    if (result.run_dir / "HANDOFF.md").exists():
        console.print(f"handoff:       {result.run_dir / 'HANDOFF.md'}")
    if result.branch:
        console.print(f"branch:        {result.branch}")


@click.command()
@click.argument("ticket", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The repository the ticket is about (never modified).")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
              default=Path("stages.yaml"), show_default=True, help="The stages file.")
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs"), show_default=True, help="Where run directories go.")
@click.option("--base", default=None, help="Base ref (default: the ticket's, else HEAD).")
@click.option("--include-uncommitted", is_flag=True,
              help="Start from the repo's uncommitted state (copied, not moved).")
@click.option("--commit-branch", default=None,
              help="On success, commit the result on this new branch of the repo.")
@click.option("-v", "--verbose", is_flag=True, help="Show every tool call.")
@trust_options
def run(*, ticket: Path, repo: Path, config_path: Path, runs_dir: Path, base: str | None,
        include_uncommitted: bool, commit_branch: str | None, verbose: bool,
        trust_repo_config: bool, trust_repo_runs_dir: bool) -> None:
    """Run TICKET (a .yaml or front-matter .md file) through the pipeline.

    The stages file and the runs directory may not be inside REPO (it is untrusted) unless
    named and confirmed (--trust-repo-config, --trust-repo-runs-dir).

    Exit status: 0 resolved, 1 not resolved, 2 bad input or config (nothing spent)."""
    check_repo_paths([repo], config_path=config_path, runs_dir=runs_dir,
                     trust_config=trust_repo_config, trust_runs=trust_repo_runs_dir)
    console = Console(highlight=False)
    # The run joins its project's history in the user's data directory (docs/calibration.md);
    # the demo does not: its repository is new on every run, a project of its own each time.
    display = LiveDisplay(console, verbose=verbose)
    try:
        with run_tracer(os.environ) as tracer:
            result = execute(RunRequest(ticket, repo, config_path, runs_dir, base,
                                        include_uncommitted, commit_branch,
                                        history_home=data_home(os.environ)),
                             listener=display, tracer=tracer)
    finally:
        display.close()
    report(console, result)
    raise SystemExit(result.exit_code)


@click.command()
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs"), show_default=True, help="Where run directories go.")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Run the demo ticket with this stages file instead (e.g. the shipped one, "
                   "with vendor keys in the environment).")
@click.option("-v", "--verbose", is_flag=True, help="Show every tool call.")
def demo(runs_dir: Path, config_path: Path | None, verbose: bool) -> None:
    """Run the bundled ticket on the bundled TypeScript repo, offline, in the real sandbox."""
    bundle = Path(str(files("harness.demo")))
    repo = _demo_repo(bundle / "repo", runs_dir / "demo-repo")
    console = Console(highlight=False)
    console.print(f"demo repository: {repo}  (ticket {bundle / 'ticket.yaml'})")
    display = LiveDisplay(console, verbose=verbose)
    try:
        with run_tracer(os.environ) as tracer:
            result = execute(RunRequest(bundle / "ticket.yaml", repo,
                                        config_path or bundle / "stages.yaml", runs_dir),
                             listener=display, tracer=tracer)
    finally:
        display.close()
    report(console, result)
    raise SystemExit(result.exit_code)


def _demo_repo(source: Path, dest: Path) -> Path:
    """A fresh git repository holding the demo sources (recreated on every demo)."""
    if dest.exists():
        subprocess.run(["git", "-C", str(dest), "worktree", "prune"], check=False,
                       capture_output=True)
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("node_modules", "dist"))
    env = {"GIT_AUTHOR_NAME": "demo", "GIT_AUTHOR_EMAIL": "demo@localhost",
           "GIT_COMMITTER_NAME": "demo", "GIT_COMMITTER_EMAIL": "demo@localhost",
           "PATH": "/usr/bin:/bin:/usr/local/bin"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                 ["commit", "-q", "-m", "demo repository"]):
        subprocess.run(["git", "-C", str(dest), *args], check=True, env=env,
                       capture_output=True)
    return dest.resolve()
