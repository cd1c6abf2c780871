"""``harness run --json-events``: every recorder event as one JSON object a line on stdout (or
appended to a file), in order, with the documented envelope (docs/events.md) — and no secret:
neither a key in the environment nor a key-shaped string a model wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.conftest import TICKET
from tests.runs.resume_scripts import KEY_SHAPED, stages

ROOT = Path(__file__).resolve().parents[2]
ENV_SECRET = "sk-ant-api03-" + "E" * 40  # a vendor key in the environment
OTHER_SECRET = "hunter2-" + "z" * 24  # an ordinary variable's value


def harness_run(tmp_path: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "stages.yaml"
    config.write_text(stages())
    ticket = tmp_path / "ticket.yaml"
    ticket.write_text(TICKET)
    return subprocess.run(
        [sys.executable, "-c", "from harness.cli import main; main()", "run", str(ticket),
         "--repo", str(repo), "-c", str(config), "--runs-dir", str(tmp_path / "runs"), *args],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "ANTHROPIC_API_KEY": ENV_SECRET, "SOME_TOKEN": OTHER_SECRET,
             "HARNESS_HOME": str(tmp_path / "data")})


def check_stream(lines: list[str]) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert e["schema"] == 1
        assert isinstance(e["t"], str)
        assert isinstance(e["event"], str)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_start"
    assert kinds[-1] == "run_end"
    order = ["run_start", "calibration", "baseline", "target", "attempt_start", "meter",
             "decomposition", "attempt_end", "attempt_start", "tool", "tests_start", "tests",
             "attempt_end", "run_end"]
    at = 0
    for kind in order:  # in this order, other events between
        at = kinds.index(kind, at) + 1
    assert events[-1]["status"] == "needs_human"
    start = events[0]
    assert start["ticket"] == "T-1"
    assert start["run_id"] == Path(start["run_dir"]).name
    return events


@pytest.mark.docker
def test_json_events_stream_every_event_to_stdout_without_secrets(tmp_path: Path,
                                                                  repo: Path) -> None:
    proc = harness_run(tmp_path, repo, "--json-events")
    assert proc.returncode == 1, proc.stderr  # needs_human
    events = check_stream(proc.stdout.splitlines())
    for secret in (ENV_SECRET, OTHER_SECRET, KEY_SHAPED):
        assert secret not in proc.stdout
        assert secret not in proc.stderr
    assert any("[redacted]" in json.dumps(e) for e in events if e["event"] == "tool")
    assert "needs_human" in proc.stderr  # the display and the report went to stderr
    run_dir = Path(events[0]["run_dir"])
    recorded = [json.loads(line)["event"] for line in (run_dir / "events.jsonl").open()]
    assert recorded == [e["event"] for e in events]  # the same events as events.jsonl


@pytest.mark.docker
def test_json_events_to_a_file(tmp_path: Path, repo: Path) -> None:
    out = tmp_path / "events.jsonl"
    proc = harness_run(tmp_path, repo, "--json-events", str(out), "-v")
    assert proc.returncode == 1, proc.stderr
    check_stream(out.read_text().splitlines())
    assert "needs_human" in proc.stdout  # the display stays on stdout
    assert not any(line.startswith("{") for line in proc.stdout.splitlines())


@pytest.mark.docker
def test_a_batch_streams_every_runs_events_tagged_with_its_ticket(tmp_path: Path,
                                                                   repo: Path) -> None:
    from tests.runs.batch_scripts import STAGES  # noqa: PLC0415
    from tests.runs.test_batch import tickets  # noqa: PLC0415

    config = tmp_path / "stages.yaml"
    config.write_text(STAGES)
    proc = subprocess.run(
        [sys.executable, "-c", "from harness.cli import main; main()", "batch",
         str(tickets(tmp_path / "tickets.jsonl", 2)), "--repo", str(repo), "-c", str(config),
         "--runs-dir", str(tmp_path / "runs"), "--workers", "2", "--json-events", "-"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "HARNESS_HOME": str(tmp_path / "data")})
    assert proc.returncode == 1, proc.stderr  # B-1 gets the buggy fix
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert "batch summary" in proc.stderr
    for ticket, status in (("B-1", "halted"), ("B-2", "resolved")):
        mine = [e for e in events if e["ticket"] == ticket]
        assert mine[0]["event"] == "run_start"
        assert mine[-1] == {**mine[-1], "event": "run_end", "status": status}
    assert {e["ticket"] for e in events} == {"B-1", "B-2"}
