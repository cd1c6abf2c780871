"""`harness history import`, `harness calibrate` and `harness cost --ticket`, as a user runs
them, on the planted history of test_backtest (whose backtest answer is known)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.calibration.project import history_file, project_id
from harness.cli import main
from tests.calibration.test_backtest import SHAPES, planted_history, t_of
from tests.conftest import SEED
from tests.sandbox.conftest import make_repo


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A repository, its planted run directories (plus one unfinished and one of a repository
    that is gone), a stages file and a data directory, imported once."""
    root = tmp_path_factory.mktemp("project")
    repo = make_repo(root / "repo", {"a.txt": "a\n"})
    runs = root / "runs"
    for state in planted_history():
        _run_dir(runs, {**state, "repo": str(repo)})
    _run_dir(runs, {**planted_history()[0], "run_id": "unfinished", "status": "running",
                    "repo": str(repo)})
    _run_dir(runs, {**planted_history()[0], "run_id": "elsewhere", "repo": str(root / "gone")})
    (root / "stages.yaml").write_text(SEED + "token_cap: 2000000\n")
    paths: dict[str, Any] = {"root": root, "repo": repo, "runs": runs, "home": root / "home",
                             "config": root / "stages.yaml"}
    code, out, err = harness(paths, "history", "import", str(runs))
    assert code == 0, err
    paths["import_output"] = out
    return paths


def _run_dir(runs: Path, state: dict[str, Any]) -> None:
    (runs / state["run_id"]).mkdir(parents=True)
    (runs / state["run_id"] / "run.json").write_text(json.dumps(state))


def harness(paths: dict[str, Any], *args: str, home: Path | None = None) -> tuple[int, str, str]:
    env = {"HARNESS_HOME": str(home or paths["home"])}
    result = CliRunner(env=env).invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_backfills_once_and_says_what_it_skipped(project: dict[str, Any]) -> None:
    out = project["import_output"]
    file = history_file(project["home"] / "history", project_id(project["repo"]))
    assert f"{file}: 242 runs imported, 0 already there" in out
    assert "skipped 2:" in out
    assert "unfinished: run unfinished has not finished (status running)" in out
    assert "/gone: no such directory — cannot key its run history" in out
    assert "(or pass --repo)" in out
    code, again, _ = harness(project, "history", "import", str(project["runs"]))
    assert code == 0
    assert f"{file}: 0 runs imported, 242 already there" in again


def test_calibrate_prints_fits_and_the_backtest(project: dict[str, Any]) -> None:
    code, out, err = harness(project, "calibrate", "--repo", str(project["repo"]), "-c",
                             str(project["config"]))
    assert code == 0, err
    assert "242 recorded, 240 usable (resolved, with a decomposition)" in out
    assert "runs are held to the calibrated ceiling" in out
    assert "sub_tickets^0.80 · chain_depth^0.20 · (1+operations)^0.30" in out
    assert "wrongly stopped 3 of 240 successful runs (R007, R031, R088)" in out
    assert "unsuccessful runs: 2; the calibrated cap would have stopped 1 of them earlier" in out
    assert "the median run's cap would have been 18.1% of token_cap 2,000,000" in out


def test_calibrate_json_carries_the_numbers(project: dict[str, Any]) -> None:
    code, out, _ = harness(project, "calibrate", "--json", "--repo", str(project["repo"]), "-c",
                           str(project["config"]))
    assert code == 0
    data = json.loads(out)
    assert data["usable_runs"] == 240
    assert data["active"] is True
    exponents = data["fits"]["run"]["expected"]["exponents"]
    assert exponents == pytest.approx({"sub_tickets": 0.8, "chain_depth": 0.2,
                                       "operations": 0.3}, abs=0.02)
    backtest = data["backtest"]
    assert backtest["wrongly_stopped"] == ["R007", "R031", "R088"]
    assert backtest["stages"]["reviewer"]["rambling"] == ["R050", "R099"]
    assert backtest["run"]["failed_stopped"] == 1


def test_cost_for_a_ticket_uses_its_latest_plan(project: dict[str, Any]) -> None:
    ticket = project["root"] / "t1.yaml"
    ticket.write_text("id: T-1\ntitle: again\n")
    code, out, err = harness(project, "cost", "--json", "-c", str(project["config"]),
                             "--ticket", str(ticket), "--repo", str(project["repo"]))
    assert code == 0, err
    data = json.loads(out)
    assert data["expectations"].startswith("calibrated from 240 runs in ")
    shape = SHAPES[241 % len(SHAPES)]  # the last planted run of T-1
    assert f"decomposition: {shape.describe()} — the decomposition of T-1's latest recorded " \
           "plan (run R241)" in data["calibration"]
    assert data["expected"]["tokens"] == pytest.approx(t_of(shape), rel=0.02)
    assert data["within_caps"]["cap"] == "calibrated ceiling"
    assert data["within_caps"]["tokens"] == pytest.approx(1.5 * t_of(shape), rel=0.03)


def test_cost_for_a_new_ticket_uses_the_typical_plan(project: dict[str, Any]) -> None:
    ticket = project["root"] / "t2.md"
    ticket.write_text("---\nid: NEW-1\ntitle: new\n---\nbody\n")
    code, out, _ = harness(project, "cost", "-c", str(project["config"]), "--ticket",
                           str(ticket), "--repo", str(project["repo"]))
    assert code == 0
    assert "token figures: calibrated from 240 runs" in out
    assert "the history's median decomposition (NEW-1 has no recorded plan yet)" in out


def test_cost_without_a_history_says_it_uses_the_defaults(project: dict[str, Any]) -> None:
    ticket = project["root"] / "t1.yaml"
    ticket.write_text("id: T-1\ntitle: again\n")
    code, out, _ = harness(project, "cost", "-c", str(project["config"]), "--ticket",
                           str(ticket), "--repo", str(project["repo"]),
                           home=project["root"] / "empty-home")
    assert code == 0
    assert "token figures: package defaults" in out
    assert "calibration: none — " in out
    assert "no run history for this project yet" in out


def test_calibrate_refuses_a_corrupt_history(project: dict[str, Any], tmp_path: Path) -> None:
    file = history_file(tmp_path / "history", project_id(project["repo"]))
    file.parent.mkdir()
    file.write_bytes(b"garbage" * 100)
    code, _, err = harness(project, "calibrate", "--repo", str(project["repo"]), home=tmp_path)
    assert code == 1
    assert f"harness: {file}: cannot use this run history (file is not a database)" in err
    assert file.read_bytes() == b"garbage" * 100


def test_calibrate_without_a_history(project: dict[str, Any], tmp_path: Path) -> None:
    code, _, err = harness(project, "calibrate", "--repo", str(project["repo"]), home=tmp_path)
    assert code == 1
    assert "no run history for this project yet" in err
    assert not (tmp_path / "history").exists() or not any((tmp_path / "history").iterdir())


def test_plain_cost_and_check_do_not_load_the_fitting_code(tmp_path: Path) -> None:
    path = tmp_path / "stages.yaml"
    path.write_text(SEED)
    probe = ("import sys\nfrom harness.cli import main\n"
             f"for cmd in (['check', '-c', {str(path)!r}], ['cost', '-c', {str(path)!r}]):\n"
             "    try:\n        main(cmd)\n    except SystemExit:\n        pass\n"
             "print('LOADED', [m for m in ('numpy', 'sqlite3') if m in sys.modules])\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert "LOADED []" in proc.stdout, proc.stdout + proc.stderr


def test_cost_below_min_runs_keeps_the_defaults(project: dict[str, Any]) -> None:
    config = project["root"] / "strict.yaml"
    config.write_text(SEED + "calibration: {min_runs: 500}\n")
    ticket = project["root"] / "t1.yaml"
    ticket.write_text("id: T-1\ntitle: again\n")
    code, out, _ = harness(project, "cost", "-c", str(config), "--ticket", str(ticket),
                           "--repo", str(project["repo"]))
    assert code == 0
    assert "token figures: package defaults" in out
    assert "calibration: none — 240 usable runs in " in out
    assert "below calibration.min_runs 500" in out
