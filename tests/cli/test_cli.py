"""The command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli.jsonschema import stages_schema
from tests.conftest import MINIMAL, SEED

ROOT = Path(__file__).resolve().parents[2]
Write = Callable[[str], Path]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_prints_the_table_for_the_seed(write: Write) -> None:
    code, out, err = run("check", "-c", str(write(SEED)))
    assert code == 0, err
    assert "coder" in out
    assert "medium → high → max → max" in out
    assert "output_config.effort: medium → high → max → max" in out
    assert "gemini-flash = gemini-3.5-flash" in out
    assert "surface_to_human" in out
    assert "warning: debugger.on_retry" in err


def test_check_json(write: Write) -> None:
    code, out, _ = run("check", "--json", "-c", str(write(SEED)))
    assert code == 0
    data = json.loads(out)
    coder = next(s for s in data["stages"] if s["stage"] == "coder")
    assert [a["control"]["value"] for a in coder["attempts"]] == ["medium", "high", "max", "max"]
    assert coder["timeout_s"] == 120
    assert data["token_cap"] == 2_000_000


def test_refused_config_exits_2_with_one_line_per_problem(write: Write) -> None:
    path = write(MINIMAL.replace("timeout: 120s", "timeout: 120") + "  retry_budget: -1\n")
    code, out, err = run("check", "-c", str(path))
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{path}:8:12: coder.timeout: `120` has no unit")
    assert lines[1].startswith(f"{path}:9:17: coder.retry_budget:")
    assert lines[2] == "refused: 2 errors; nothing was run"


def test_refused_config_json(write: Write) -> None:
    code, out, _ = run("check", "--json", "-c", str(write("planner: {}\n")))
    assert code == 2
    data = json.loads(out)
    assert data["ok"] is False
    assert {d["path"] for d in data["diagnostics"]} >= {"coder", "planner.timeout"}


def test_missing_default_file_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("check")
    assert code == 2
    assert err.splitlines()[0] == ("stages.yaml: no such file — pass the config with -c PATH "
                                   "(default: ./stages.yaml)")


def test_cost_prints_expected_and_worst_case(write: Write) -> None:
    code, out, _ = run("cost", "-c", str(write(SEED)))
    assert code == 0
    assert "Where the money goes when things go wrong" in out
    assert "debugger routes" in out
    assert "expected run: $" in out
    assert "worst case:   $" in out


def test_cost_json_totals_are_the_sum_of_their_steps(write: Write) -> None:
    code, out, _ = run("cost", "--json", "-c", str(write(SEED + "cost_cap_usd: 2\n")))
    assert code == 0
    data = json.loads(out)
    worst = data["worst_case"]
    assert worst["cost_usd"] == pytest.approx(sum(s["cost_usd"] for s in worst["steps"]))
    assert sum(p["cost_usd"] for p in data["failure_paths"].values()) == pytest.approx(
        worst["cost_usd"] - data["expected"]["cost_usd"])
    assert data["within_caps"]["cap"] == "cost_cap_usd"
    assert data["within_caps"]["cost_usd"] == 2


def test_cost_refuses_like_check(write: Write) -> None:
    assert run("cost", "-c", str(write("coder: 1\n")))[0] == 2


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "docs" / "stages.schema.json").read_text())
    assert committed == stages_schema(), "run: harness schema > docs/stages.schema.json"
    assert committed["$defs"]["StageConfig"]["required"] == ["vendor", "model", "timeout"]


def test_shipped_stages_yaml_is_valid_and_points_editors_at_the_schema() -> None:
    text = (ROOT / "stages.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=docs/stages.schema.json")
    code, _, err = run("check", "-c", str(ROOT / "stages.yaml"))
    assert code == 0, err
    # The shipped default is the design note's example with run-wide sections added.
    for line in SEED.splitlines():
        if line.strip() and "mini-brain" not in line:
            assert line in text.splitlines(), line


@pytest.mark.parametrize("config", ["refused", "valid"])
def test_no_vendor_sdk_is_imported_by_check_or_cost(write: Write, config: str) -> None:
    """Config checks construct no client: the SDKs are not even imported."""
    path = write(SEED if config == "valid" else SEED.replace("timeout: 120s", "timeout: 0s"))
    probe = ("import sys\nfrom harness.cli import main\n"
             f"for cmd in (['check', '-c', {str(path)!r}], ['cost', '-c', {str(path)!r}]):\n"
             "    try:\n        main(cmd)\n    except SystemExit:\n        pass\n"
             "bad = [m for m in ('anthropic', 'google.genai', 'docker') if m in sys.modules]\n"
             "print('IMPORTED', bad)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False)
    assert "IMPORTED []" in proc.stdout, proc.stdout + proc.stderr
