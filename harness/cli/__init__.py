"""The ``harness`` command line."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import click

from harness import __version__
from harness.budget.estimate import Calibrated, estimate, fallback_paths
from harness.cli import render
from harness.cli.jsonschema import stages_schema
from harness.cli.repo_paths import check_repo_paths, trust_config_option
from harness.config.diagnostics import Severity
from harness.errors import ConfigError, HarnessError
from harness.stages import RunPlan, load_plan

EXIT_CONFIG = 2

config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), default=Path("stages.yaml"),
    show_default=True, help="The stages file.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


class _Harness(click.Group):
    """Every deliberate error ends as one line on stderr: 2 for bad input, 1 otherwise.

    Commands that need Docker load on first use, so `harness check` never imports its SDK."""

    lazy: ClassVar[dict[str, str]] = {"calibrate": "harness.cli.calibrate_cmds:calibrate",
                                      "history": "harness.cli.calibrate_cmds:history",
                                      "sandbox": "harness.cli.sandbox_cmds:sandbox",
                                      "gc": "harness.cli.sandbox_cmds:gc",
                                      "map": "harness.cli.map_cmds:map_command",
                                      "run": "harness.cli.run_cmds:run",
                                      "demo": "harness.cli.run_cmds:demo",
                                      "report": "harness.cli.report_cmds:report",
                                      "batch": "harness.cli.batch_cmds:batch",
                                      "eval": "harness.cli.eval_cmds:eval_command",
                                      "reproduce": "harness.cli.reproduce_cmds:reproduce",
                                      "resume": "harness.cli.resume_cmds:resume_command",
                                      "worker": "harness.cli.worker_cmds:worker"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attr = self.lazy[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["harness.argv"] = list(args)  # for the one line an unexpected error gets
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(f"harness: {exc}", err=True)
            ctx.exit(EXIT_CONFIG if isinstance(exc, ValueError) else 1)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors, exit codes, ^C
        except Exception as exc:  # never a traceback: one line, the details in a file
            from harness.cli.crash import crash_line  # noqa: PLC0415 - only when it happens

            click.echo(crash_line(exc, ctx.meta.get("harness.argv", [])), err=True)
            ctx.exit(1)


@click.group(cls=_Harness, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
    """Run tickets through Planner, Coder, Debugger and Reviewer stages, each configured on
    its own in stages.yaml."""


def _load(path: Path, as_json: bool) -> RunPlan:
    """The checked plan; on a refused config, print every problem and exit 2."""
    try:
        plan = load_plan(path)
    except ConfigError as exc:
        _report_refusal(exc, as_json)
        sys.exit(EXIT_CONFIG)
    if not as_json:
        for w in plan.warnings:
            click.echo(w.format(), err=True)
    return plan


def _report_refusal(exc: ConfigError, as_json: bool) -> None:
    errors = [d for d in exc.diagnostics if d.severity is Severity.ERROR]
    if as_json:
        click.echo(json.dumps({"ok": False, "diagnostics": [d.as_dict()
                                                            for d in exc.diagnostics]}, indent=2))
        return
    for d in exc.diagnostics:
        click.echo(d.format(), err=True)
    warned = len(exc.diagnostics) - len(errors)
    tail = f", {warned} warning{'s' * (warned != 1)}" if warned else ""
    click.echo(f"refused: {len(errors)} error{'s' * (len(errors) != 1)}{tail}; nothing was run",
               err=True)


@main.command()
@config_option
@json_option
def check(config_path: Path, as_json: bool) -> None:
    """Validate stages.yaml and show what every stage's attempts will send.

    Exit status: 0 valid (warnings allowed), 2 refused."""
    plan = _load(config_path, as_json)
    if as_json:
        click.echo(json.dumps(render.check_json(plan), indent=2))
        return
    out = render.console()
    out.print(render.check_table(plan))
    fallbacks = render.fallback_table(plan)
    if fallbacks is not None:
        out.print(fallbacks)
    out.print(render.cache_table(plan))


@main.command()
@config_option
@json_option
@click.option("--ticket", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Use the project's calibrated history for this ticket (its latest recorded "
                   "plan's decomposition, else the history's typical one).")
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
              show_default=True, help="With --ticket: the repository whose history to use.")
@trust_config_option
def cost(config_path: Path, as_json: bool, ticket: Path | None, repo: Path,
         trust_repo_config: bool) -> None:
    """What a run will cost before it starts, and where the money goes when things fail."""
    if ticket is not None:  # the stages file then says where the history is read from
        check_repo_paths([repo], config_path=config_path, trust_config=trust_repo_config)
    plan = _load(config_path, as_json)
    calibrated: Calibrated | None = None
    notes: list[str] = []
    if ticket is not None:  # imported here: numpy and the history stay out of a plain `cost`
        from harness.cli.calibrate_cmds import calibrated_cost  # noqa: PLC0415
        calibrated, notes = calibrated_cost(plan, ticket, repo)
    report = estimate(plan, calibrated=calibrated)
    fallbacks = fallback_paths(plan, calibrated=calibrated)
    if as_json:
        extra: dict[str, Any] = {"calibration": notes} if ticket else {}
        if fallbacks:
            extra["fallback_paths"] = render.fallback_cost_json(fallbacks)
        click.echo(json.dumps({**render.cost_json(plan, report), **extra}, indent=2))
        return
    out = render.console()
    backup = render.fallback_cost_table(plan, report, fallbacks)
    for table in [*render.cost_tables(plan, report), *([backup] if backup else [])]:
        out.print(table)
    for line in [*render.cost_summary(plan, report), *notes]:
        out.print(line, markup=False, highlight=False)


@main.command()
def schema() -> None:
    """Print the JSON Schema of stages.yaml (for editors: yaml-language-server)."""
    click.echo(json.dumps(stages_schema(), indent=2))
