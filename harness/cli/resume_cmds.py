"""``harness resume``: a needs_human or halted run continued with a person's brief."""

from __future__ import annotations

import os
from pathlib import Path

import click

from harness.calibration.project import data_home
from harness.cli import repo_paths
from harness.cli.json_events import json_events_option, run_output
from harness.cli.run_cmds import report
from harness.runs.reproduce import locate_run
from harness.runs.resume import ResumeRequest, resume


@click.command(name="resume")
@click.argument("run")
@click.option("--brief", default=None, help="What the stage that surfaced should do now.")
@click.option("--brief-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              default=None, help="The brief, read from a file.")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="Resume with this stages file (default: the one the run used, refused if it "
                   "changed since).")
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs"), show_default=True, help="Where to look up a run id.")
@click.option("-v", "--verbose", is_flag=True, help="Show every tool call.")
@json_events_option
@repo_paths.trust_options
def resume_command(*, run: str, brief: str | None, brief_file: Path | None,
                   config_path: Path | None, runs_dir: Path, verbose: bool,
                   json_events: str | None, trust_repo_config: bool,
                   trust_repo_runs_dir: bool) -> None:
    """Continue RUN (a run directory, or a run id under --runs-dir) that ended needs_human or
    halted: the stage that surfaced gets a fresh attempt ladder and the brief, in the same run
    directory, from the workspace the run left; the caps count what it already spent.

    Refused for a run that is running, resolved or ended otherwise, and for a run directory
    or stages file inside the run's repository unless named and confirmed
    (--trust-repo-runs-dir, --trust-repo-config).

    Exit status: 0 resolved, 1 not resolved, 2 refused (nothing spent)."""
    if brief is not None and brief_file is not None:
        raise click.UsageError("give --brief or --brief-file, not both")
    if brief_file is not None:
        brief = brief_file.read_text(encoding="utf-8")
    run_dir, state = locate_run(run, runs_dir)  # run.json is only parsed here
    repos = [Path(str(state["repo"]))] if state.get("repo") else []
    named_run = Path(run).is_dir() or repo_paths.chosen("runs_dir", "--runs-dir", runs_dir,
                                                        False).named
    repo_paths.check_runs_dir(repos, repo_paths.Chosen(run_dir, "--runs-dir", named_run,
                                                       trust_repo_runs_dir))
    recorded = Path(str(state.get("config_file") or ""))
    repo_paths.check_config(repos, repo_paths.Chosen(
        config_path or recorded, "--config", config_path is not None, trust_repo_config))
    with run_output(json_events, verbose=verbose) as (console, _, listener):
        result = resume(ResumeRequest(run_dir, brief=brief or None, config=config_path,
                                      history_home=data_home(os.environ)), listener=listener)
    report(console, result)
    raise SystemExit(result.exit_code)
