"""``harness run`` and ``harness demo``: a ticket through the pipeline, shown as it goes."""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from harness.calibration.project import data_home
from harness.cli.json_events import json_events_option, run_output
from harness.cli.live import LiveDisplay
from harness.cli.repo_paths import check_repo_paths, trust_options
from harness.cli.tracing import run_tracer
from harness.runs.execute import RunRequest, RunResult, execute

__all__ = ["LiveDisplay", "demo", "report", "run"]



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
@json_events_option
@trust_options
def run(*, ticket: Path, repo: Path, config_path: Path, runs_dir: Path, base: str | None,
        include_uncommitted: bool, commit_branch: str | None, verbose: bool,
        json_events: str | None, trust_repo_config: bool, trust_repo_runs_dir: bool) -> None:
    """Run TICKET (a .yaml or front-matter .md file) through the pipeline.

    The stages file and the runs directory may not be inside REPO (it is untrusted) unless
    named and confirmed (--trust-repo-config, --trust-repo-runs-dir).

    Exit status: 0 resolved, 1 not resolved, 2 bad input or config (nothing spent)."""
    check_repo_paths([repo], config_path=config_path, runs_dir=runs_dir,
                     trust_config=trust_repo_config, trust_runs=trust_repo_runs_dir)
    # The run joins its project's history in the user's data directory (docs/calibration.md);
    # the demo does not: its repository is new on every run, a project of its own each time.
    with run_output(json_events, verbose=verbose) as (console, _, listener), \
            run_tracer(os.environ) as tracer:
        result = execute(RunRequest(ticket, repo, config_path, runs_dir, base,
                                    include_uncommitted, commit_branch,
                                    history_home=data_home(os.environ)),
                         listener=listener, tracer=tracer)
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
