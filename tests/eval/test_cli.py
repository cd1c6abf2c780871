"""``harness eval``'s refusals before anything runs (engine-free)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main


@pytest.fixture
def instances(tmp_path: Path) -> Path:
    path = tmp_path / "i.jsonl"
    path.write_text(json.dumps({"instance_id": "i-1", "repo": "acme/x"}) + "\n")
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["--gold", "--empty", "--repo", "."], "two different checks"),
    (["--repo", "."], "at least one -c"),
    (["--gold"], "--repos DIR"),
])
def test_usage_errors(instances: Path, args: list[str], message: str) -> None:
    got = CliRunner().invoke(main, ["eval", str(instances), *args])
    assert got.exit_code == 2
    assert message in got.output


def test_a_stages_file_inside_the_repository_is_refused(tmp_path: Path,
                                                        instances: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "stages.yaml").write_text("planner: {}\n")
    got = CliRunner().invoke(main, ["eval", str(instances), "--repo", str(repo), "-c",
                                    str(repo / "stages.yaml"), "--runs-dir",
                                    str(tmp_path / "out")])
    assert got.exit_code == 2
    assert "inside the repository" in got.output


def test_a_bad_instance_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "i.jsonl"
    path.write_text('{"instance_id": "i-1"}\n{"instance_id": "i 2"}\n')
    got = CliRunner().invoke(main, ["eval", str(path), "--gold", "--repo", str(tmp_path)])
    assert got.exit_code == 2
    assert f"{path}:2: instance_id" in got.output
