"""``harness reproduce``: a recorded run's failure, again, in its container."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.cli import repo_paths
from harness.runs.reproduce import (
    Reproduction,
    attempt_sandbox,
    choose_attempt,
    locate_run,
    replay_run,
)
from harness.runs.reproduce import reproduce as reproduce_attempt
from harness.sandbox.engine import connect


@click.command(name="reproduce")
@click.argument("run")
@click.option("--attempt", default=None,
              help="A Coder attempt's label (coder/S1/a2) or index; default: the last failing.")
@click.option("--shell", is_flag=True, help="Open a shell in the attempt's container instead.")
@click.option("--replay", is_flag=True,
              help="Re-run the whole pipeline from the recorded model exchanges (no vendor call).")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The repository, when the run was recorded elsewhere.")
@click.option("--runs-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("runs"), show_default=True, help="Where to look up a run id.")
@repo_paths.trust_runs_option
def reproduce(*, run: str, attempt: str | None, shell: bool, replay: bool, repo: Path | None,
              runs_dir: Path, trust_repo_runs_dir: bool) -> None:
    """Re-create RUN's failing attempt and re-run its tests; exit 0 when the failure
    reproduces, 1 when it does not (flaky or environment-dependent).

    The run may not be inside the repository unless named and confirmed
    (--trust-repo-runs-dir): the repository could have planted it."""
    console = Console(highlight=False)
    run_dir, state = locate_run(run, runs_dir)  # run.json is only parsed here
    named = Path(run).is_dir() or repo_paths.chosen("runs_dir", "--runs-dir", runs_dir,
                                                    False).named
    repos = [repo] if repo is not None else []
    if state.get("repo"):
        repos.append(Path(str(state["repo"])))
    repo_paths.check_runs_dir(repos, repo_paths.Chosen(run_dir, "--runs-dir", named,
                                                       trust_repo_runs_dir))
    if replay:
        _replay(console, run_dir, state, repo)
        return
    chosen = choose_attempt(state, attempt)
    client = connect()
    if shell:
        with attempt_sandbox(client, run_dir, state, chosen, repo=repo) as (sandbox, note):
            console.print(f"{chosen['label']} in {sandbox.container.short_id} ({note}); "
                          "exit the shell to remove it")
            subprocess.run(["docker", "exec", "-it", "-w", "/workspace",
                            str(sandbox.container.id), "bash"], check=False)
        return
    result = reproduce_attempt(client, run_dir, state, chosen, repo=repo)
    show(console, result)
    raise SystemExit(0 if result.reproduced else 1)


def show(console: Console, r: Reproduction) -> None:
    table = Table(title=Text(f"{r.label}: $ {r.command}"))
    table.add_column("")
    table.add_column("the run saw")
    table.add_column("now")
    # test names and output come from the repository: printed as text, never as markup
    table.add_row("exit", Text(r.then.exit), Text(r.now.exit))
    table.add_row("failing tests", Text("\n".join(r.then.failing) or "-"),
                  Text("\n".join(r.now.failing) or "-"))
    console.print(table)
    console.print(f"image: {r.image_note}", markup=False)
    diff = r.first_difference()
    console.print(f"first differing output: {diff}" if diff else "output: the same",
                  markup=False)
    if r.reproduced:
        console.print("[bold red]reproduced[/]: the failure happens again")
    else:
        console.print("[bold yellow]not reproduced[/]: the tests behave differently now — the "
                      "failure is flaky or depends on the environment")


def _replay(console: Console, run_dir: Path, state: dict[str, object], repo: Path | None
            ) -> None:
    result = replay_run(run_dir, state, repo=repo)
    same = _read(result.run_dir / "final.diff") == _read(run_dir / "final.diff")
    verdict = ("identical" if same else "DIFFERENT") if result.patch.exists() else (
        "none (the replay stopped before the end)")
    console.print(f"replay: {result.status} (recorded: {state['status']}); final diff "
                  f"{verdict}; {result.run_dir}", markup=False)
    if result.status == "error":
        console.print(result.detail, style="red", markup=False)
    raise SystemExit(0 if same and result.status == state["status"] else 1)


def _read(path: Path) -> bytes | None:
    """A run's final diff; None when the run ended before writing one."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
