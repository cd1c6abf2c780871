"""``harness resume`` in the real sandbox with scripted stages: a run that surfaced to a human
continues in its own run directory with the human's brief and resolves; the caps count what the
run spent before; and the runs that may not be resumed are refused before anything is spent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.runs.execute import RunRequest, RunResult, execute
from harness.runs.resume import ResumeRefusedError, ResumeRequest, resume
from harness.sandbox.lease import Lease
from tests.pipeline.conftest import TICKET, tree_digest
from tests.runs.resume_scripts import BRIEF, TOKENS, stages

ROOT = Path(__file__).resolve().parents[2]


def first_run(tmp_path: Path, repo: Path, client: docker.DockerClient, *,
              token_cap: int = 500_000, review: bool = False) -> RunResult:
    config = tmp_path / "stages.yaml"
    config.write_text(stages(token_cap, review=review))
    ticket = tmp_path / "ticket.yaml"
    ticket.write_text(TICKET)
    result = execute(RunRequest(ticket, repo, config, tmp_path / "runs"), client=client)
    assert result.status == ("halted" if review else "needs_human"), result.detail
    return result


def state(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "run.json").read_text())
    return data


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").open()]


@pytest.mark.docker
def test_a_run_surfaced_to_a_human_resumes_with_the_brief_and_resolves(
        tmp_path: Path, repo: Path, client: docker.DockerClient) -> None:
    first = first_run(tmp_path, repo, client)
    before = state(first.run_dir)
    assert before["stopped_in"] == "coder"
    assert (first.run_dir / "HANDOFF.md").exists()
    digest = tree_digest(repo)

    result = resume(ResumeRequest(first.run_dir, brief=BRIEF), client=client)

    assert result.status == "resolved", result.detail
    assert result.run_dir == first.run_dir  # the same run directory
    assert tree_digest(repo) == digest, "the user's repository changed"
    after = state(first.run_dir)
    assert after["status"] == "resolved"
    assert after["attempts"][:len(before["attempts"])] == before["attempts"]  # appended
    new = after["attempts"][len(before["attempts"]):]
    assert [(a["label"], a["outcome"]) for a in new] == [("coder/S1/r2/a1", "passed")]
    assert after["totals"]["tokens"] == before["totals"]["tokens"] + 2 * TOKENS
    (entry,) = after["resumes"]
    assert entry["brief"] == BRIEF
    assert entry["from_status"] == "needs_human"
    assert entry["stage"] == "coder"
    assert entry["spent_before"]["tokens"] == 3 * TOKENS
    assert "replace(/^-+|-+$/g" in (first.run_dir / "final.diff").read_text()
    assert not (first.run_dir / "HANDOFF.md").exists()  # resolved: no handoff now
    assert (first.run_dir / "resumed/1/HANDOFF.md").exists()  # what the human read
    kinds = [e["event"] for e in events(first.run_dir)]
    assert kinds.count("run_end") == 2
    resumed = next(e for e in events(first.run_dir) if e["event"] == "resumed")
    assert resumed["brief"] == BRIEF
    assert kinds.index("resumed") > kinds.index("run_end")  # after the first ending
    assert kinds[-1] == "run_end"
    assert len(list((first.run_dir / "llm").iterdir())) == 5  # numbered on, none overwritten
    assert not (first.run_dir / "workspace").exists()

    with pytest.raises(ResumeRefusedError, match="is resolved"):
        resume(ResumeRequest(first.run_dir, brief=BRIEF), client=client)


@pytest.mark.docker
def test_a_resume_counts_what_the_run_spent_against_its_cap(
        tmp_path: Path, repo: Path, client: docker.DockerClient) -> None:
    first = first_run(tmp_path, repo, client, token_cap=4 * TOKENS + TOKENS // 2)
    assert state(first.run_dir)["totals"]["tokens"] == 3 * TOKENS  # under the cap

    result = resume(ResumeRequest(first.run_dir, brief=BRIEF), client=client)

    assert result.status == "token_cap_exceeded", result.detail  # the resume alone would fit
    after = state(first.run_dir)
    assert after["status"] == "token_cap_exceeded"
    assert after["totals"]["tokens"] == 5 * TOKENS
    meters = [e["tokens"] for e in events(first.run_dir) if e["event"] == "meter"]
    assert meters[-2:] == [4 * TOKENS, 5 * TOKENS]  # counted on from what was spent
    with pytest.raises(ResumeRefusedError, match="only a needs_human or halted run"):
        resume(ResumeRequest(first.run_dir, brief=BRIEF), client=client)


@pytest.mark.docker
def test_a_halted_review_resumes_with_a_fresh_reviewer_ladder_that_reads_the_brief(
        tmp_path: Path, repo: Path, client: docker.DockerClient) -> None:
    first = first_run(tmp_path, repo, client, review=True)
    before = state(first.run_dir)
    assert before["stopped_in"] == "reviewer"
    diff = (first.run_dir / "final.diff").read_text()

    result = resume(ResumeRequest(first.run_dir, brief=BRIEF), client=client)

    assert result.status == "resolved", result.detail
    after = state(first.run_dir)
    new = after["attempts"][len(before["attempts"]):]
    assert [(a["label"], a["outcome"]) for a in new] == [("reviewer/r2/a1", "approved")]
    assert (first.run_dir / "final.diff").read_text() == diff  # the workspace the run left
    assert (first.run_dir / "resumed/1/final.diff").read_text() == diff
    labels = [a["label"] for a in after["attempts"]]
    assert len(labels) == len(set(labels))


def recorded_run(tmp_path: Path, **fields: Any) -> Path:
    """A finished run's directory as harness leaves it (no sandbox needed to refuse it)."""
    config = tmp_path / "stages.yaml"
    config.write_text(stages())
    from harness.stages.load import load_plan  # noqa: PLC0415
    run_dir = tmp_path / "runs" / "T-1-20260101-000000-abcd"
    run_dir.mkdir(parents=True)
    data = {"status": "needs_human", "stopped_in": "coder", "run_id": run_dir.name,
            "ticket": {"id": "T-1", "title": "t"}, "repo": str(tmp_path / "repo"),
            "base_commit": "0" * 40, "config_file": str(config),
            "config": load_plan(config).config.model_dump(mode="json"), "attempts": [],
            "totals": {"tokens": 0, "cost_usd": 0.0}, **fields}
    (run_dir / "run.json").write_text(json.dumps(data))
    return run_dir


@pytest.mark.parametrize(("fields", "message"), [
    ({"status": "resolved"}, "is resolved"),
    ({"status": "error"}, "ended `error`: only a needs_human or halted run resumes"),
    ({"status": "running"}, "still marked running: its process is gone"),
    ({"stopped_in": None}, "names no stage that surfaced"),
])
def test_runs_that_may_not_resume_are_refused(tmp_path: Path, fields: dict[str, Any],
                                               message: str) -> None:
    run_dir = recorded_run(tmp_path, **fields)
    with pytest.raises(ResumeRefusedError, match=message):
        resume(ResumeRequest(run_dir, brief="x"))
    assert json.loads((run_dir / "run.json").read_text())["status"] == fields.get(
        "status", "needs_human")  # untouched


def test_a_running_run_is_refused_while_its_lease_is_held(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path, status="running")
    with Lease(run_dir), pytest.raises(ResumeRefusedError, match="still holds the lease"):
        resume(ResumeRequest(run_dir))


def test_a_run_being_resumed_is_refused(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path)
    with Lease(run_dir / ".resume"), pytest.raises(ResumeRefusedError,
                                                   match="being resumed by another"):
        resume(ResumeRequest(run_dir))


def test_a_changed_stages_file_is_refused_unless_named(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path)
    (tmp_path / "stages.yaml").write_text(stages(token_cap=123_456))
    with pytest.raises(ResumeRefusedError, match=r"changed since the run \(different: "
                                                 r"token_cap\).*--config"):
        resume(ResumeRequest(run_dir))
    (tmp_path / "stages.yaml").unlink()
    with pytest.raises(ResumeRefusedError, match="is gone: name one with --config"):
        resume(ResumeRequest(run_dir))


def test_the_cli_refuses_a_run_or_config_inside_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run_dir = recorded_run(repo)  # runs/ and stages.yaml inside the repository
    data = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**data, "repo": str(repo)}))
    out = CliRunner().invoke(main, ["resume", str(run_dir), "--brief", "x"])
    assert out.exit_code == 2, out.output
    assert "is inside the repository" in out.output
    assert "--trust-repo-runs-dir" in out.output
    outside = tmp_path / "runs"
    outside.mkdir()
    (repo / "runs").rename(outside / "r")
    out = CliRunner().invoke(main, ["resume", str(outside / "r" / run_dir.name)])
    assert out.exit_code == 2, out.output
    assert "the stages file" in out.output
    assert "--trust-repo-config" in out.output


@pytest.mark.docker
def test_harness_resume_on_the_command_line(tmp_path: Path, repo: Path,
                                            client: docker.DockerClient) -> None:
    first = first_run(tmp_path, repo, client)
    brief = tmp_path / "brief.txt"
    brief.write_text(BRIEF)
    proc = subprocess.run(
        [sys.executable, "-c", "from harness.cli import main; main()", "resume",
         first.run_dir.name, "--runs-dir", str(tmp_path / "runs"), "--brief-file", str(brief)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "HARNESS_HOME": str(tmp_path / "data")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "↻ resumed (needs_human) at coder" in proc.stdout
    assert "resolved" in proc.stdout
