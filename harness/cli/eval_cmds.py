"""``harness eval``: instances under one or more stages files, graded with their hidden tests,
the configs compared side by side (docs/eval.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from harness.calibration.project import data_home
from harness.cli.repo_paths import Chosen, check_config, check_repo_paths, trust_options
from harness.config.schema import SandboxConfig
from harness.eval.instances import RepoSource, load_instances
from harness.eval.run import ALL_RESULTS, SCRATCH, SUMMARY, EvalSpec, Mode, run_eval
from harness.eval.summary import comparison_table, config_table
from harness.runs.batch import BatchState
from harness.sandbox.engine import connect
from harness.stages import load_plan


@click.command(name="eval")
@click.argument("instances", type=click.Path(path_type=Path))
@click.option("-c", "--config", "configs", type=click.Path(path_type=Path, dir_okay=False),
              multiple=True, help="A stages file to evaluate; repeat to compare configs. With "
              "--gold/--empty, the first one's sandbox section grades (else the defaults).")
@click.option("--gold", is_flag=True, help="No model: grade each instance's own `patch` "
              "(an instance it does not resolve is `invalid`).")
@click.option("--empty", is_flag=True, help="No model: grade an empty patch (a check of the "
              "grading: nothing resolves unless FAIL_TO_PASS is empty).")
@click.option("--repos", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="A directory of repositories as owner+name (a clone, or a bare mirror at "
              "owner+name/repo), found by each instance's `repo`.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The repository of every instance --repos does not find.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("eval"), show_default=True,
              help="The eval's directory: one batch directory per config, the table, results.")
@click.option("--redo", is_flag=True, help="Run and grade every pair again.")
@trust_options
def eval_command(*, instances: Path, configs: tuple[Path, ...], gold: bool, empty: bool,
                 repos: Path | None, repo: Path | None, workers: int, runs_dir: Path,
                 redo: bool, trust_repo_config: bool, trust_repo_runs_dir: bool) -> None:
    """Run INSTANCES (SWE-bench JSONL, or harness tickets) under each -c config and grade
    every result with the instance's hidden tests in a fresh sandbox.

    Running the same command again resumes: graded pairs are skipped. Exit 0 when every pair
    resolved (with --gold: every instance is valid), 1 otherwise, 2 for bad input."""
    if gold and empty:
        raise click.UsageError("--gold and --empty are two different checks: pass one")
    mode: Mode = "gold" if gold else "empty" if empty else "configs"
    if mode == "configs" and not configs:
        raise click.UsageError("pass at least one -c stages file (or --gold / --empty)")
    if repos is None and repo is None:
        raise click.UsageError("pass --repos DIR (owner+name clones or mirrors) or --repo PATH")
    found = load_instances(instances)
    source = RepoSource(repos=repos, repo=repo, scratch=runs_dir / SCRATCH)
    checked = [p for p in (repo, repos) if p is not None]
    checked += [Path(i.repo) for i in found if i.given is not None and i.repo]
    check_repo_paths(checked, runs_dir=runs_dir, trust_runs=trust_repo_runs_dir)
    for config in configs:
        check_config(checked, Chosen(config, "--config", True, trust_repo_config))
    plans = [load_plan(c) for c in configs]  # a refused config stops before anything runs
    spec = EvalSpec(found, runs_dir, source,
                    plans[0].config.sandbox if plans else SandboxConfig(),
                    (configs[0] if configs else Path("stages.yaml")).resolve().parent,
                    configs, mode, workers, redo, history_home=data_home(os.environ))
    # the table is wide: a pipe or a log gets it whole rather than at 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 180)
    with Progress(TextColumn("[bold]eval {task.fields[label]}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
                  TimeElapsedColumn(), console=console) as bar:
        tasks: dict[str, TaskID] = {}

        def show(label: str, state: BatchState) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task("eval", total=state.total, label=label, detail="")
            graded = sum(1 for r in state.done if r.get("resolved"))
            bar.update(tasks[label], completed=len(state.done), detail=(
                f"running {len(state.running)}  resolved {graded}  ${state.cost_usd:.4f}"))

        result = run_eval(spec, connect(), on_change=show)
    console.print(config_table(result.summaries))
    if result.comparisons:
        console.print(comparison_table(result.comparisons))
    console.print(f"skipped (already done) {result.skipped}")
    console.print(f"results: {runs_dir / ALL_RESULTS}\nsummary: {runs_dir / SUMMARY}")
    pairs = [r for rows in result.rows.values() for r in rows]
    done = len(pairs) == len(found) * max(len(result.rows), 1)
    raise SystemExit(0 if done and all(r.get("resolved") for r in pairs) else 1)
