"""``harness history import``, ``harness calibrate``, and where ``harness cost --ticket`` finds
its history (the figures themselves: ``harness.budget.calibrated``). The user's data directory
is resolved here, from the environment, and nowhere else."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import click
from rich.table import Table

from harness.budget.calibrated import calibrated_figures
from harness.budget.estimate import Calibrated
from harness.calibration.backtest import Backtest, backtest
from harness.calibration.fit import calibrate as fit_history
from harness.calibration.history_db import (
    HistoryDB,
    HistoryError,
    NoHistoryError,
    RunRecordError,
)
from harness.calibration.model import RUN, Calibration, Sample
from harness.calibration.project import data_home, history_dir, history_file, project_id
from harness.cli import render
from harness.cli.repo_paths import check_repo_paths, trust_config_option
from harness.config.schema import DEFAULT_TOKEN_CAP, CalibrationConfig
from harness.pipeline.ticket import load_ticket
from harness.runs.history import runs
from harness.stages import RunPlan, load_plan

repo_option = click.option(
    "--repo", type=click.Path(path_type=Path, file_okay=False), default=Path("."),
    show_default=True, help="The repository whose history to use (keyed by its root commit).")
config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
    help="The stages file (default: ./stages.yaml if present) for its calibration: settings.")


def cli_home() -> Path:
    """The user's data directory: the one place harness reads HARNESS_HOME / XDG_DATA_HOME."""
    return data_home(os.environ)


@dataclass(frozen=True)
class Settings:
    """The calibration settings in force: the stages file's, or the defaults without one."""

    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    token_cap: int = DEFAULT_TOKEN_CAP
    on_rambling: dict[str, Literal["flag", "stop"]] = field(default_factory=dict)
    config_dir: Path = Path(".")

    @classmethod
    def of(cls, plan: RunPlan) -> Settings:
        config = plan.config
        return cls(config.calibration, config.token_cap,
                   {r: s.on_rambling for r, s in config.stages.items()},
                   Path(plan.file).resolve().parent)

    @classmethod
    def load(cls, config_path: Path | None, repos: list[Path], *, trust: bool) -> Settings:
        """The settings of ``config_path`` (default ./stages.yaml), refused when that file is
        inside one of ``repos`` unconfirmed: its ``calibration.history`` says where harness
        writes (repo_paths)."""
        path = config_path or Path("stages.yaml")
        if config_path is None and not path.exists():
            return cls(config_dir=Path.cwd())
        check_repo_paths(repos, config_path=path, trust_config=trust)
        return cls.of(load_plan(path))

    def directory(self) -> Path:
        found = history_dir(self.calibration, self.config_dir, cli_home())
        assert found is not None  # a home is always given here
        return found

    def open(self, repo: Path, *, create: bool) -> HistoryDB:
        project = project_id(repo.resolve())
        return HistoryDB(history_file(self.directory(), project), project, create=create)


@click.group()
def history() -> None:
    """The project's run history (what `harness calibrate` fits)."""


@history.command("import")
@click.argument("runs_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Record every run in this repository's history (default: each run's own "
                   "`repo` from its run.json).")
@config_option
@trust_config_option
def import_runs(runs_dir: Path, repo: Path | None, config_path: Path | None,
                trust_repo_config: bool) -> None:
    """Backfill the history from the run directories under RUNS_DIR (their run.json). Runs
    already recorded are skipped, so importing twice is harmless."""
    found = runs(runs_dir)
    recorded = {Path(str(s["repo"])) for _, s in found if s.get("repo")}
    settings = Settings.load(config_path, [repo] if repo else sorted(recorded),
                             trust=trust_repo_config)
    if not found:
        raise click.ClickException(f"{runs_dir}: no run directories with a run.json")
    dbs: dict[str, HistoryDB] = {}
    counts: dict[str, list[int]] = {}  # file -> [imported, already there]
    skipped: list[str] = []
    for run_dir, state in found:
        try:
            db = _db_for(settings, dbs, repo or _recorded_repo(state))
        except HistoryError as exc:
            skipped.append(f"  {run_dir}: {exc}" + ("" if repo else " (or pass --repo)"))
            continue
        try:
            added = db.add(state)
        except RunRecordError as exc:
            skipped.append(f"  {run_dir}: {exc}")
            continue
        counts.setdefault(str(db.path), [0, 0])[0 if added else 1] += 1
    for path, (added_n, known) in counts.items():
        click.echo(f"{path}: {added_n} run{'s' * (added_n != 1)} imported, {known} already there")
    if skipped:
        click.echo(f"skipped {len(skipped)}:\n" + "\n".join(skipped))


def _recorded_repo(state: dict[str, Any]) -> Path:
    if not state.get("repo"):
        raise HistoryError("run.json names no repository")
    return Path(str(state["repo"]))


def _db_for(settings: Settings, dbs: dict[str, HistoryDB], repo: Path) -> HistoryDB:
    key = str(repo)
    if key not in dbs:
        dbs[key] = settings.open(repo, create=True)
    return dbs[key]


@click.command()
@repo_option
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@trust_config_option
def calibrate(repo: Path, config_path: Path | None, as_json: bool,
              trust_repo_config: bool) -> None:
    """Fit each stage's tokens to the decomposition from the project's history, and show what
    the calibrated ceilings would have done to it."""
    settings = Settings.load(config_path, [repo], trust=trust_repo_config)
    db = settings.open(repo, create=False)
    samples = db.samples()
    cal = fit_history(samples, min_runs=settings.calibration.min_runs,
                      quantile=settings.calibration.quantile)
    test = backtest(samples, settings.calibration, settings.token_cap, settings.on_rambling) if (
        RUN in cal.fits) else None
    if as_json:
        click.echo(json.dumps(calibrate_json(db, samples, cal, test, settings), indent=2))
        return
    out = render.console()
    for line in _header(db, samples, cal, settings):
        out.print(line, markup=False, highlight=False)
    if cal.fits:
        out.print(_fits_table(cal))
    if test is not None:
        out.print(_backtest_table(test, settings))
        for line in _backtest_lines(test, settings):
            out.print(line, markup=False, highlight=False)


def _header(db: HistoryDB, samples: list[Sample], cal: Calibration,
            settings: Settings) -> list[str]:
    s = settings.calibration
    state = ("runs are held to the calibrated ceiling" if cal.active else
             f"below calibration.min_runs {s.min_runs}: runs use the fixed token_cap alone")
    lines = [f"history: {db.path}",
             f"runs:    {len(samples)} recorded, {cal.usable_runs} usable (resolved, with a "
             f"decomposition); {state}",
             "model:   ln tokens = b0 + b1·ln(sub_tickets) + b2·ln(chain_depth) + "
             f"b3·ln(1+operations); expected = median fit, ceiling = q{s.quantile:g} fit",
             f"caps:    a run's cap = min(token_cap {settings.token_cap:,}, {s.headroom:g} × its "
             f"`run` ceiling); a stage rambles past {s.rambling_factor:g} × its expected tokens"]
    if not cal.fits:
        lines.append("no fit: too few usable runs to fit (each fit needs a few more runs than "
                     "it has coefficients)")
    return lines


def _fits_table(cal: Calibration) -> Table:
    table = Table(title="Fits (tokens in a run; `run` is the run's total)",
                         title_justify="left")
    for col in ("stage", "runs", "expected tokens (median)", "R¹", f"ceiling (q{cal.quantile:g})",
                "R¹ "):
        table.add_column(col, justify="right" if col in ("runs", "R¹", "R¹ ") else "left")
    for name, fit in cal.fits.items():
        short = "" if fit.runs >= cal.min_runs else " (below min_runs: unused)"
        table.add_row(name + short, str(fit.runs), fit.expected.describe(),
                      f"{fit.r1_expected:.2f}", fit.ceiling.describe(), f"{fit.r1_ceiling:.2f}")
    return table


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _backtest_table(test: Backtest, settings: Settings) -> Table:
    s = settings.calibration
    table = Table(title=f"Backtest ({test.folds}-fold, each run judged by fits that did "
                         "not see it)", title_justify="left")
    for col in ("stage", "judged", "under ceiling", "cap ÷ token_cap", "tighter",
                f"over {s.rambling_factor:g}× expected", "on_rambling",
                "successful runs wrongly stopped"):
        table.add_column(col, justify="left" if col in ("stage", "on_rambling") else "right")
    run = test.run
    table.add_row(RUN, f"{run.predicted}/{run.runs}", _pct(run.coverage), _pct(run.cap_share),
                  _pct(None if run.cap_share is None else 1 - run.cap_share), "-", "-",
                  f"{len(run.stopped)} of {run.runs}")
    for c in test.stages.values():
        stopped = f"{len(c.rambling)} of {c.runs}" if c.action == "stop" else "0 (flag only)"
        table.add_row(c.stage, f"{c.predicted}/{c.runs}", _pct(c.coverage), _pct(c.cap_share),
                      "-", str(len(c.rambling)), c.action, stopped)
    return table


def _backtest_lines(test: Backtest, settings: Settings) -> list[str]:
    run = test.run
    wrong = test.wrongly_stopped
    named = f" ({', '.join(wrong[:5])}{', ...' * (len(wrong) > 5)})" if wrong else ""
    lines = [f"in all: the calibrated cap and rambling stops would have wrongly stopped "
             f"{len(wrong)} of {run.runs} successful runs{named}"]
    if run.failed:
        lines.append(f"unsuccessful runs: {run.failed}; the calibrated cap would have stopped "
                     f"{run.failed_stopped} of them earlier, saving {run.tokens_saved:,} tokens")
    if run.cap_share is not None:
        lines.append(f"the median run's cap would have been {run.cap_share:.1%} of token_cap "
                     f"{settings.token_cap:,}")
    return lines


def calibrate_json(db: HistoryDB, samples: list[Sample], cal: Calibration,
                   test: Backtest | None, settings: Settings) -> dict[str, Any]:
    return {
        "history": str(db.path), "project": db.project, "recorded_runs": len(samples),
        "usable_runs": cal.usable_runs, "active": cal.active,
        "settings": {**settings.calibration.model_dump(), "token_cap": settings.token_cap},
        "fits": {name: fit.as_dict() for name, fit in cal.fits.items()},
        "backtest": None if test is None else {
            "folds": test.folds, "run": test.run.__dict__,
            "stages": {n: c.__dict__ for n, c in test.stages.items()},
            "wrongly_stopped": test.wrongly_stopped},
    }


# -- harness cost --ticket ------------------------------------------------------------------


def calibrated_cost(plan: RunPlan, ticket_path: Path, repo: Path) -> tuple[Calibrated | None,
                                                                             list[str]]:
    """The history's figures for the ticket (None: the package defaults) and lines saying which
    figures and which decomposition were used, and why (``harness.budget.calibrated``); this
    side finds the ticket and the project's history file."""
    settings = Settings.of(plan)
    ticket = load_ticket(ticket_path)
    try:
        db = settings.open(repo, create=False)
    except NoHistoryError as exc:
        return None, [f"calibration: none — {exc}"]
    return calibrated_figures(plan, db, ticket.id)
