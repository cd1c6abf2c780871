"""The run directory's writers: everything is redacted before it reaches the disk, the
redaction keeps words that merely contain a key's prefix, atomic writes are durable (the file
and its directory are fsynced), and results.jsonl survives a line torn by a kill."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.runs.batch import PREDICTIONS, RESULTS, append_result, finished_rows, write_predictions
from harness.runs.record import RunRecorder, write_json_atomic
from harness.stages import load_plan
from harness.vendors.common import redact, redact_data, remember_secret
from harness.vendors.types import Message, ModelRequest, ModelResponse, Usage
from tests.conftest import MINIMAL

KEY = "sk-ant-api03-" + "Record0" * 6
GOOGLE = "AIza" + "Record0" * 5
OPAQUE = "opaque-" + "R3c0rd" * 5  # shaped like no vendor's key: known by value only


@pytest.mark.parametrize("text", [
    "risk-assessment_module_v2", "task-management-service", "disk-usage_report_weekly",
    "MAIza0123456789abcdefghijklmn", "desk-organizer-deluxe-edition"])
def test_words_that_contain_a_prefix_are_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("text", [
    f"key={KEY}", f"{KEY} trailing", f"'{KEY}'", f"-{KEY}", f"x?key={GOOGLE}&y=1",
    f"Bearer {KEY}"])
def test_keys_are_redacted_wherever_they_start(text: str) -> None:
    out = redact(text)
    assert KEY not in out
    assert GOOGLE not in out
    assert "[redacted]" in out


def test_a_key_after_an_escaped_newline_is_found() -> None:
    data = {"text": f"line one\n{KEY}\ttab\t{GOOGLE}"}
    assert KEY not in json.dumps(redact_data(data))
    assert GOOGLE not in json.dumps(redact_data(data))


def request(tmp_path: Path) -> ModelRequest:
    config = tmp_path / "stages.yaml"
    config.write_text(MINIMAL)
    settings = load_plan(config).stages["coder"].attempts[0].settings()
    return ModelRequest(settings, f"system {KEY}", (Message("user", f"hi\n{KEY}"),), 0.0)


def test_every_file_a_run_writes_is_redacted(tmp_path: Path) -> None:
    remember_secret(OPAQUE)
    secrets = {"ticket": {"id": "T-1", "body": f"{KEY} {GOOGLE} {OPAQUE}"}}
    rec = RunRecorder(tmp_path / "run", secrets)
    rec.event("tool", call=f"write_file({KEY})")
    response = ModelResponse(f"done\n{KEY}", (), "end_turn", Usage(), 0.0, 0.0, "m")
    rec.exchange("coder", 1, request(tmp_path), response)
    rec.test_output("coder-S1-a1-full", f"echo {KEY}", f"{OPAQUE}\nrisk-assessment_module_v2")
    rec.attempt_diff("coder/S1/a1".replace("/", "-"), f"+const k = '{KEY}';\n")
    rec.write("final.diff", f"+const k = '{KEY}';\n+{OPAQUE}\n")
    rec.write("HANDOFF.md", f"# handoff\n{GOOGLE}\n")
    rec.write_crash(RuntimeError(f"boom {KEY}"))
    rec.finish("error", error=f"x {OPAQUE}")
    written = [p for p in rec.dir.rglob("*") if p.is_file()]
    assert len(written) == 8
    for path in written:
        text = path.read_text()
        for secret in (KEY, GOOGLE, OPAQUE):
            assert secret not in text, f"{secret} in {path.name}"
        assert "[redacted]" in text, path.name
    assert "risk-assessment_module_v2" in (rec.dir / "tests" / "001-coder-S1-a1-full.txt"
                                           ).read_text()


def test_batch_results_and_predictions_are_redacted(tmp_path: Path) -> None:
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "final.diff").write_text(f"+{KEY}\n")
    append_result(tmp_path, {"ticket": "T-1", "run_dir": "r1", "detail": f"failed: {KEY}"})
    write_predictions(tmp_path, ["T-1"])
    for name in (RESULTS, PREDICTIONS):
        text = (tmp_path / name).read_text()
        assert KEY not in text
        assert "[redacted]" in text


def test_a_torn_last_line_does_not_swallow_the_next_row(tmp_path: Path) -> None:
    append_result(tmp_path, {"ticket": "T-1", "status": "resolved"})
    with (tmp_path / RESULTS).open("a") as f:
        f.write('{"ticket": "T-2", "sta')  # the batch was killed mid-write
    append_result(tmp_path, {"ticket": "T-3", "status": "halted"})
    assert sorted(finished_rows(tmp_path)) == ["T-1", "T-3"]


def test_atomic_writes_reach_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_json_atomic(tmp_path / "run.json", {"status": "running"})
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".run.json.")  # the temp file, before the rename
    assert synced[1] == str(tmp_path)  # then the directory holding the new name
    assert json.loads((tmp_path / "run.json").read_text()) == {"status": "running"}
