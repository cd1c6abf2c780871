"""``harness batch`` in the real sandbox with stateless scripted stages: concurrency, results and
predictions, resume after SIGKILL without redoing finished tickets, and batch caps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from harness.runs.batch import finished_rows
from harness.runs.tickets import load_ticket_list
from harness.sandbox.docker_sandbox import LABEL_RUN_DIR
from tests.runs.batch_scripts import STAGES

ROOT = Path(__file__).resolve().parents[2]


def tickets(path: Path, n: int) -> Path:
    rows = [{"id": f"B-{i}", "title": f"trim dashes ({i})", "body": "slugify must trim",
             "fail_to_pass": ["trims dashes"]}
            for i in range(1, n + 1)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def batch(tmp_path: Path, repo: Path, *args: str) -> subprocess.Popen[str]:
    config = tmp_path / "stages.yaml"
    config.write_text(STAGES)
    return subprocess.Popen(
        [sys.executable, "-c", "from harness.cli import main; main()", "batch",
         str(tickets(tmp_path / "tickets.jsonl", 6)), "--repo", str(repo), "-c", str(config),
         "--runs-dir", str(tmp_path / "runs"), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.docker
def test_six_tickets_two_workers_results_and_predictions(tmp_path: Path, repo: Path) -> None:
    proc = batch(tmp_path, repo, "--workers", "2")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 1, out  # the odd tickets do not resolve
    rows = finished_rows(tmp_path / "runs")
    assert {t: r["status"] for t, r in rows.items()} == {
        "B-1": "halted", "B-2": "resolved", "B-3": "halted", "B-4": "resolved",
        "B-5": "halted", "B-6": "resolved"}
    assert "resolved 3/6 (50%)" in out
    assert "batch summary" in out
    predictions = [json.loads(line) for line in
                   (tmp_path / "runs" / "predictions.jsonl").read_text().splitlines()]
    assert [p["instance_id"] for p in predictions] == [f"B-{i}" for i in range(1, 7)]
    for p in predictions:  # the SWE-bench predictions format
        assert set(p) == {"instance_id", "model_name_or_path", "model_patch"}
        assert p["model_name_or_path"] == "harness/claude-sonnet-5-5"
        assert p["model_patch"].startswith("diff --git a/src/slug.js b/src/slug.js")


@pytest.mark.docker
def test_a_killed_batch_resumes_without_redoing_finished_tickets(
        tmp_path: Path, repo: Path, client: docker.DockerClient) -> None:
    proc = batch(tmp_path, repo, "--workers", "2")
    results = tmp_path / "runs" / "results.jsonl"
    deadline = time.monotonic() + 300
    while not (results.exists() and len(finished_rows(tmp_path / "runs")) >= 2):
        assert time.monotonic() < deadline, "no results in time"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = finished_rows(tmp_path / "runs")
    assert 2 <= len(first) < 6

    again = batch(tmp_path, repo, "--workers", "2")
    out, _ = again.communicate(timeout=600)
    rows = finished_rows(tmp_path / "runs")
    assert set(rows) == {f"B-{i}" for i in range(1, 7)}, out
    for ticket, row in first.items():
        assert rows[ticket] == row  # finished tickets were not run again
    lines = results.read_text().splitlines()
    assert len(lines) == 6
    assert f"skipped (already done) {len(first)}" in out
    run_dirs = [p for p in (tmp_path / "runs").iterdir() if p.is_dir() and p.name[0] != "."]
    statuses = [json.loads((p / "run.json").read_text())["status"] for p in run_dirs]
    assert "running" not in statuses  # killed runs were marked interrupted
    left = [c for c in client.containers.list(all=True, filters={"label": LABEL_RUN_DIR})
            if str(tmp_path) in (c.labels or {}).get(LABEL_RUN_DIR, "")]
    assert left == []


@pytest.mark.docker
def test_a_batch_cost_cap_stops_new_tickets(tmp_path: Path, repo: Path) -> None:
    proc = batch(tmp_path, repo, "--workers", "1", "--cost-cap-usd", "0.000001")
    out, _ = proc.communicate(timeout=600)
    rows = finished_rows(tmp_path / "runs")
    assert list(rows) == ["B-1"], out
    assert "not started: B-2, B-3, B-4, B-5, B-6" in out


def test_swe_bench_rows_become_tickets(tmp_path: Path) -> None:
    path = tmp_path / "swe.jsonl"
    path.write_text(json.dumps({"instance_id": "astropy__astropy-12907",
                                "problem_statement": "Modeling's separability_matrix is wrong\n"
                                                     "for nested CompoundModels",
                                "base_commit": "d16bfe05a744909de4b27f5875fe0d4ed41ce607",
                                "FAIL_TO_PASS": '["test_separable[compound_model6]"]',
                                "repo": "/src/astropy"}) + "\n")
    (item,) = load_ticket_list(path)
    assert item.ticket.id == "astropy__astropy-12907"
    assert item.ticket.title == "Modeling's separability_matrix is wrong"
    assert item.ticket.base == "d16bfe05a744909de4b27f5875fe0d4ed41ce607"
    assert item.repo == Path("/src/astropy")
    assert item.ticket.fail_to_pass == ["test_separable[compound_model6]"]


@pytest.mark.parametrize(("content", "message"), [
    ("[{id: A}]", "row 1: title"), ("{}", "a YAML list"),
    ("- {id: A, title: t}\n- {id: A, title: u}\n", "appears twice")])
def test_bad_ticket_lists_are_refused(tmp_path: Path, content: str, message: str) -> None:
    from harness.errors import TicketError  # noqa: PLC0415
    path = tmp_path / "list.yaml"
    path.write_text(content)
    with pytest.raises(TicketError, match=message):
        load_ticket_list(path)
