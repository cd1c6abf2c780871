"""``harness worker start|stop``: this machine as a node of the Ray cluster that runs
``harness batch --engine ray`` (docs/scale-out.md). A thin wrapper over ``ray start``/``ray stop``
that first makes sure the node can run tickets."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from harness.cli.sandbox_cmds import sandbox_config
from harness.scale.node import SLOT, WORK_DIR_ENV, node_engine, node_image

_RAY = [sys.executable, "-m", "ray.scripts.scripts"]  # the ray CLI of this interpreter


@click.group()
def worker() -> None:
    """This machine as a node of a Ray cluster that runs batch tickets."""


@worker.command(context_settings={"ignore_unknown_options": True})
@click.option("--slots", type=click.IntRange(1, 256), required=True,
              help=f"Tickets this node runs at once (its `{SLOT}` resource).")
@click.option("--address", default=None, metavar="HOST:PORT",
              help="Join the cluster whose head is there.")
@click.option("--head", is_flag=True, help="Start a new cluster, with this node as its head.")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help=f"The node's cache and scratch runs (sets {WORK_DIR_ENV}; default "
                   "~/.cache/harness/worker).")
@click.option("-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="The stages file whose sandbox section the image is built from (default: "
                   "./stages.yaml if present and not in a git checkout).")
@click.option("--image-tar", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              default=None, help="Load the sandbox image from this `docker save` archive "
                                 "(nodes without a registry or a build).")
@click.argument("ray_args", nargs=-1, type=click.UNPROCESSED)
def start(*, slots: int, address: str | None, head: bool, work_dir: Path | None,
          config_path: Path | None, image_tar: Path | None, ray_args: tuple[str, ...]) -> None:
    """Check the Docker engine, build or load the sandbox image, then `ray start` with SLOTS.

    A machine without a Docker engine refuses to join. Arguments after `--` go to `ray start`
    unchanged (--port, --num-cpus, --temp-dir, --block, ...)."""
    if head == (address is not None):
        raise click.UsageError("give --head (start a cluster) or --address HOST:PORT (join one)")
    if importlib.util.find_spec("ray") is None:
        raise click.ClickException("Ray is not installed here: pip install 'harness[ray]'")
    client = node_engine()
    cfg, config_dir = sandbox_config(config_path)
    out = Console(stderr=True, highlight=False)
    with out.status("sandbox image") as status:
        image = node_image(client, cfg, config_dir, image_tar,
                           lambda line: status.update(f"[bold]sandbox image[/] {line[:100]}"))
    click.echo(f"docker: ok; sandbox image {image.tag} {image.id[7:19]} "
               f"({'up to date' if image.reused else 'built'}); {slots} slots", err=True)
    argv = [*_RAY, "start", *(["--head"] if head else ["--address", str(address)]),
            "--resources", json.dumps({SLOT: slots}), *ray_args]
    # Ray's runtime-env agent logs each task's runtime env, key variables included, at info.
    env = {"RAY_LOGGER_LEVEL": "warning", **os.environ}
    if work_dir is not None:
        env[WORK_DIR_ENV] = str(work_dir.resolve())
    sys.stdout.flush()
    os.execve(argv[0], argv, env)  # the same process becomes `ray start` (--block keeps it)


@worker.command()
@click.option("-f", "--force", is_flag=True, help="SIGKILL instead of SIGTERM.")
def stop(force: bool) -> None:
    """`ray stop`: every Ray process on this machine ends; tickets running here are retried on
    other nodes and their runs here end interrupted."""
    argv = [*_RAY, "stop", *(["--force"] if force else [])]
    os.execv(argv[0], argv)
