import json
from pathlib import Path

from harness.runs.history import mark_interrupted, runs
from harness.runs.record import RunRecorder
from harness.sandbox.lease import Lease


def test_a_dead_run_is_marked_interrupted_and_a_live_one_is_not(tmp_path: Path) -> None:
    dead = RunRecorder(tmp_path / "dead", {"run_id": "dead"})
    live = RunRecorder(tmp_path / "live", {"run_id": "live"})
    done = RunRecorder(tmp_path / "done", {"run_id": "done"})
    done.finish("resolved")
    with Lease(live.dir):
        assert mark_interrupted(tmp_path) == [dead.dir]
    status = {d.name: s["status"] for d, s in runs(tmp_path)}
    assert status == {"dead": "interrupted", "live": "running", "done": "resolved"}


def test_run_json_is_valid_after_every_step(tmp_path: Path) -> None:
    rec = RunRecorder(tmp_path / "r", {"run_id": "r"})
    for n in range(3):
        rec.update(step=n)
        assert json.loads((rec.dir / "run.json").read_text())["step"] == n
    assert not [p for p in rec.dir.iterdir() if p.name.startswith(".run.json")]
