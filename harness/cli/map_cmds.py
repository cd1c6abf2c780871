"""``harness map``: the repository map a ticket's Planner would see, printed."""

from __future__ import annotations

import os
from pathlib import Path

import click

from harness.calibration.project import data_home
from harness.config.schema import DEFAULT_REPO_MAP_TOKENS
from harness.pipeline.ticket import load_ticket
from harness.repomap import RepoMap
from harness.repomap.exclude import describe
from harness.repomap.terms import estimate_tokens


@click.command("map")
@click.argument("ticket", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="The repository (a work tree or a bare git directory).")
@click.option("--tokens", type=click.IntRange(min=0), default=DEFAULT_REPO_MAP_TOKENS,
              show_default=True, help="The map's budget (planner.repo_map_tokens).")
@click.option("--base", default=None, help="The commit to map (default: the ticket's base, "
              "else HEAD).")
def map_command(ticket: Path, repo: Path, tokens: int, base: str | None) -> None:
    """Print the repository map the Planner gets for TICKET: the files and symbols ranked for
    it, within the token budget. The commit is read from git's object store (nothing is checked
    out) and parsed files are cached by blob id in the data directory."""
    loaded = load_ticket(ticket)
    ref = base or loaded.base or "HEAD"
    repo_map = RepoMap.build(repo, ref, data_home(os.environ) / "repomap")
    text = repo_map.render(loaded.text(), tokens)
    stats = repo_map.index.stats
    click.echo(text, nl=False)
    if not repo_map.ranker.matches(loaded.text()):
        click.echo("the ticket names nothing the repository holds: the map shows the "
                   "repository's central files (most imported) instead", err=True)
    click.echo(f"{repo_map.index.commit[:12]}: {stats.files} files indexed ({stats.parsed} "
               f"parsed, the rest cached) in {stats.seconds:.2f} s; map "
               f"{estimate_tokens(text)} of {tokens} tokens; left out as not the project's code: "
               f"{describe(dict(stats.excluded))}; {stats.parse_errors} with parse errors "
               "(symbols recovered statement by statement)", err=True)
