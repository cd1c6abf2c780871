import json
import subprocess
import sys
from pathlib import Path

from harness.runs.history import mark_interrupted, runs
from harness.runs.record import RunRecorder
from harness.sandbox.lease import Lease


def gone_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_dead_run_is_marked_interrupted_and_a_live_one_is_not(tmp_path: Path) -> None:
    dead = RunRecorder(tmp_path / "dead", {"run_id": "dead", "pid": gone_pid()})
    live = RunRecorder(tmp_path / "live", {"run_id": "live"})
    done = RunRecorder(tmp_path / "done", {"run_id": "done"})
    done.finish("resolved")
    lost = RunRecorder(tmp_path / "lost", {"run_id": "lost"})  # leased once, lease released
    with Lease(lost.dir):
        pass
    with Lease(live.dir):
        assert sorted(mark_interrupted(tmp_path)) == [dead.dir, lost.dir]
    status = {d.name: s["status"] for d, s in runs(tmp_path)}
    assert status == {"dead": "interrupted", "live": "running", "done": "resolved",
                      "lost": "interrupted"}


def test_a_starting_run_and_a_run_being_made_are_left_alone(tmp_path: Path) -> None:
    """A batch worker starting settles the runs dir while its sibling's run is being made
    (hidden staging directory) or has not yet taken its lease (its process is alive)."""
    starting = RunRecorder(tmp_path / "starting", {"run_id": "starting"})
    staging = tmp_path / ".made.new"
    staging.mkdir()
    (staging / "run.json").write_text(json.dumps({"status": "running", "pid": gone_pid()}))
    assert mark_interrupted(tmp_path) == []
    assert [d.name for d, _ in runs(tmp_path)] == ["starting"]
    assert json.loads((starting.dir / "run.json").read_text())["status"] == "running"


def test_run_json_is_valid_after_every_step(tmp_path: Path) -> None:
    rec = RunRecorder(tmp_path / "r", {"run_id": "r"})
    for n in range(3):
        rec.update(step=n)
        assert json.loads((rec.dir / "run.json").read_text())["step"] == n
    assert not [p for p in rec.dir.iterdir() if p.name.startswith(".run.json")]
