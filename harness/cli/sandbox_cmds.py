"""``harness sandbox build``, ``harness sandbox detect`` and ``harness gc``."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console

from harness.cli.repo_paths import (
    check_discovered_config,
    check_repo_paths,
    trust_config_option,
)
from harness.config.schema import SandboxConfig
from harness.sandbox.engine import connect
from harness.sandbox.gc import collect_garbage
from harness.sandbox.image import dependency_image, sandbox_image, toolchain_of
from harness.sandbox.sources import Commit, SourceFiles, snapshot
from harness.sandbox.toolchain import Repo, detect
from harness.sandbox.workspace import open_repo, resolve_base
from harness.stages import load_plan


def sandbox_config(config_path: Path | None) -> tuple[SandboxConfig, Path]:
    """The file's sandbox section (defaults when there is no stages file) and its directory."""
    path = config_path or Path("stages.yaml")
    if config_path is None:
        if not path.exists():
            return SandboxConfig(), Path.cwd()
        check_discovered_config(path)
    return load_plan(path).config.sandbox, path.resolve().parent


@click.group()
def sandbox() -> None:
    """The per-ticket Docker sandbox."""


@sandbox.command()
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="The stages file (default: ./stages.yaml if present and not in a git checkout).")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also build this repository's dependency image (its HEAD's lockfile).")
@click.option("-v", "--verbose", is_flag=True, help="Print every build line.")
@trust_config_option
def build(config_path: Path | None, repo: Path | None, verbose: bool,
          trust_repo_config: bool) -> None:
    """Build the sandbox image (bootstrapping its base if needed), and a repo's dependencies.

    With --repo, the stages file may not be inside it unless named and confirmed
    (--trust-repo-config): it chooses the files the image is built with."""
    if repo is not None:
        check_repo_paths([repo], config_path=config_path or Path("stages.yaml"),
                         trust_config=trust_repo_config)
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
            deps = dependency_image(client, image, Commit(repo, _head(repo)), cfg, progress)
            if deps is image:
                click.echo("no package.json and no sandbox.setup_command: tickets use the "
                           "sandbox image as it is")
            else:
                versions = ", ".join(f"{k} {v}" for k, v in toolchain_of(deps).items() if v)
                click.echo(f"repository image {deps.tag} {deps.id[7:19]} "
                           f"({'reused' if deps.reused else 'built'}): {versions}")
    click.echo(f"done in {time.monotonic() - started:.1f}s")


@sandbox.command("detect")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="The stages file (default: ./stages.yaml if present and not in a git "
                   "checkout): sandbox.node and sandbox.setup_command override what the "
                   "repository says.")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="The repository.")
@click.option("--base", default="HEAD", show_default=True, help="The commit to read.")
@click.option("--include-uncommitted", is_flag=True,
              help="Read the working tree as it is, like `harness run --include-uncommitted`.")
def detect_cmd(config_path: Path | None, repo: Path, base: str,
               include_uncommitted: bool) -> None:
    """Print the Node, package manager and install command a ticket on REPO gets, and why."""
    cfg, _ = sandbox_config(config_path)
    if include_uncommitted:
        with snapshot(repo) as tree:
            _print_detected(tree, cfg)
    else:
        _print_detected(Commit(repo, resolve_base(open_repo(repo), base)), cfg)


def _print_detected(files: SourceFiles, cfg: SandboxConfig) -> None:
    found = Repo.read(files)
    if "package.json" not in found.text and not (cfg.setup_command or cfg.node):
        click.echo("no package.json at the root: tickets use the sandbox image as it is")
        return
    chain = detect(found, node=cfg.node, setup_command=cfg.setup_command)
    for line in chain.lines():
        click.echo(line)
    click.echo(f"keyed by: {', '.join(found.key_files()) or '-'}")


def _head(repo: Path) -> str:
    return resolve_base(open_repo(repo), "HEAD")


@click.command()
def gc() -> None:
    """Remove containers, worktrees and dangling images of runs that are no longer alive."""
    click.echo(collect_garbage(connect()).summary())
