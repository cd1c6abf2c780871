"""``harness sandbox build`` and ``harness gc``."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
from rich.console import Console

from harness.config.schema import SandboxConfig
from harness.sandbox.engine import connect
from harness.sandbox.gc import collect_garbage
from harness.sandbox.image import dependency_image, sandbox_image
from harness.sandbox.workspace import create_workspace, remove_workspace
from harness.stages import load_plan


def sandbox_config(config_path: Path | None) -> tuple[SandboxConfig, Path]:
    """The file's sandbox section (defaults when there is no stages file) and its directory."""
    path = config_path or Path("stages.yaml")
    if config_path is None and not path.exists():
        return SandboxConfig(), Path.cwd()
    return load_plan(path).config.sandbox, path.resolve().parent


@click.group()
def sandbox() -> None:
    """The per-ticket Docker sandbox."""


@sandbox.command()
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="The stages file (default: ./stages.yaml if present).")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also build this repository's dependency image (its HEAD's lockfile).")
@click.option("-v", "--verbose", is_flag=True, help="Print every build line.")
def build(config_path: Path | None, repo: Path | None, verbose: bool) -> None:
    """Build the sandbox image (bootstrapping its base if needed), and a repo's dependencies."""
    cfg, config_dir = sandbox_config(config_path)
    client = connect()
    collect_garbage(client)
    out = Console(stderr=True)
    started = time.monotonic()
    with out.status("sandbox image") as status:
        def progress(line: str) -> None:
            status.update(f"[bold]building[/] {line[:100]}")
            if verbose:
                out.print(line, markup=False, highlight=False)

        image = sandbox_image(client, cfg, config_dir=config_dir, progress=progress)
        click.echo(f"sandbox image {image.tag} {image.id[7:19]} "
                   f"({'up to date' if image.reused else 'built'})")
        if repo is not None:
            tmp = Path(tempfile.mkdtemp(prefix="harness-build-")) / "workspace"
            ws = create_workspace(repo, tmp)
            try:
                deps = dependency_image(client, image, ws.path, cfg, progress)
            finally:
                remove_workspace(ws)
                tmp.parent.rmdir()
            if deps is image:
                click.echo("no lockfile and no sandbox.setup_command: tickets use the sandbox "
                           "image as it is")
            else:
                click.echo(f"dependency image {deps.tag} {deps.id[7:19]} "
                           f"({'reused' if deps.reused else 'built'})")
    click.echo(f"done in {time.monotonic() - started:.1f}s")


@click.command()
def gc() -> None:
    """Remove containers, worktrees and dangling images of runs that are no longer alive."""
    click.echo(collect_garbage(connect()).summary())
