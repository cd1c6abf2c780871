"""``harness batch``: a ticket list through the pipeline, N tickets at a time."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from harness.calibration.project import data_home
from harness.cli.json_events import batch_events, json_events_option
from harness.cli.repo_paths import check_repo_paths, trust_options
from harness.cli.tracing import run_tracer
from harness.runs.batch import PREDICTIONS, RESULTS, BatchSpec, BatchState, Engine, run_batch
from harness.runs.tickets import load_ticket_list
from harness.stages import load_plan

_DONE_OK = "resolved"


@click.command()
@click.argument("tickets", type=click.Path(path_type=Path))
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="The repository (a SWE-bench row's own `repo` wins).")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path),
              default=Path("stages.yaml"), show_default=True)
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs"), show_default=True,
              help="The batch's directory: results.jsonl, predictions.jsonl, one dir per run.")
@click.option("--redo", is_flag=True, help="Run every ticket again, finished or not.")
@click.option("--cost-cap-usd", type=click.FloatRange(min=0), default=None,
              help="Start no new ticket once the batch has spent this much.")
@click.option("--token-cap", type=click.IntRange(min=1), default=None,
              help="Start no new ticket once the batch has used this many tokens.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="ray: spread tickets over a Ray cluster's nodes "
              "(docs/scale-out.md); each node then runs as many as its slots, not --workers.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="The Ray cluster (default: the one this machine belongs to).")
@json_events_option
@trust_options
def batch(*, tickets: Path, repo: Path, workers: int, config_path: Path, runs_dir: Path,
          redo: bool, cost_cap_usd: float | None, token_cap: int | None, engine: str,
          ray_address: str | None, json_events: str | None, trust_repo_config: bool,
          trust_repo_runs_dir: bool) -> None:
    """Run TICKETS (a directory of ticket files, a YAML list, or JSONL — SWE-bench rows too).

    The stages file and the runs directory may not be inside REPO or any repository a row
    names unless named and confirmed (--trust-repo-config, --trust-repo-runs-dir).

    Running the same command again resumes: finished tickets are skipped. Exit 0 when every
    ticket resolved, 1 otherwise, 2 for bad input."""
    items = load_ticket_list(tickets)
    check_repo_paths([repo, *(i.repo for i in items if i.repo is not None)],
                     config_path=config_path, runs_dir=runs_dir,
                     trust_config=trust_repo_config, trust_runs=trust_repo_runs_dir)
    load_plan(config_path)  # a refused config stops the batch before any ticket starts
    if json_events is not None and engine != "local":
        raise click.UsageError("--json-events streams the local engine's runs only: with "
                               "--engine ray, read each run's events.jsonl")
    # Each run of a local batch is a trace when OTEL_EXPORTER_OTLP_ENDPOINT is set; a Ray
    # node's runs are not (the tracer cannot travel to the nodes).
    with batch_events(json_events) as (console, events), \
            run_tracer(os.environ if engine == "local" else {}) as tracer:
        spec = BatchSpec(items, repo, config_path, runs_dir, workers, redo, cost_cap_usd,
                         token_cap, history_home=data_home(os.environ),  # env is read here
                         events=events, tracer=tracer)
        state = _run(console, spec, engine, ray_address)
    console.print(summary_table(state))
    resolved = sum(1 for r in state.done if r["status"] == _DONE_OK)
    rate = resolved / len(state.done) if state.done else 0.0
    console.print(f"resolved {resolved}/{len(state.done)} ({rate:.0%}); "
                  f"{state.tokens:,} tokens, ${state.cost_usd:.4f}; skipped (already done) "
                  f"{state.skipped}")
    if state.not_started:
        console.print(f"[yellow]batch cap reached: not started: {', '.join(state.not_started)}"
                      "[/] — run the same command again with a higher cap to finish")
    if state.lost:
        console.print(f"[yellow]lost (their nodes failed past the retries): "
                      f"{', '.join(state.lost)}[/] — run the same command again to finish")
    console.print(f"results: {runs_dir / RESULTS}\npredictions: {runs_dir / PREDICTIONS}")
    raise SystemExit(0 if resolved == len(items) else 1)


def _run(console: Console, spec: BatchSpec, engine: str, ray_address: str | None
         ) -> BatchState:
    with Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                  console=console) as bar:
        task = bar.add_task("batch", total=len(spec.items), detail="")

        def show(state: BatchState) -> None:
            failed = sum(1 for r in state.done if r["status"] != _DONE_OK)
            bar.update(task, completed=len(state.done), detail=(
                f"running {len(state.running)}  failed {failed}  ${state.cost_usd:.4f}"))

        state = run_batch(spec, on_change=show, engine=_engine(engine, ray_address))
        show(state)
    return state


def _engine(name: str, ray_address: str | None) -> Engine | None:
    if name == "local":
        return None
    try:  # imported only here: Ray is an optional extra and slow to import
        from harness.scale.engine import RayEngine  # noqa: PLC0415
    except ImportError as exc:
        raise click.ClickException(f"--engine ray needs Ray ({exc}): "
                                   "pip install 'harness[ray]'") from None
    return RayEngine(ray_address)


def summary_table(state: BatchState) -> Table:
    table = Table(title="batch summary")
    for column in ("ticket", "status", "attempts", "tokens", "cost", "duration"):
        table.add_column(column, justify="right" if column in {"tokens", "cost"} else "left")
    for row in state.done:
        attempts = " ".join(f"{k}:{v}" for k, v in row["attempts"].items())
        colour = "green" if row["status"] == _DONE_OK else "red"
        table.add_row(Text(str(row["ticket"])), Text(str(row["status"]), style=colour), attempts,
                      f"{row['tokens']:,}", f"${row['cost_usd']:.4f}", f"{row['duration_s']:.1f}s")
    return table
