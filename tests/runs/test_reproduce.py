"""``harness reproduce`` on real recorded runs: a failure that happens again, a flaky one that
does not, a byte-identical replay, and a shell driven through a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.sandbox.docker_sandbox import LABEL_RUN_DIR
from harness.vendors.scripted import Reply
from tests.pipeline.conftest import BUGGY, FIXED, Outcome
from tests.pipeline.test_scripted_runs import APPROVE, PLAN, Plays, code, stages

pytestmark = pytest.mark.docker  # every test here needs the engine

ROOT = Path(__file__).resolve().parents[2]
FLAKY_TEST = ('const { test } = require("node:test");\n'
              'const assert = require("node:assert");\n'
              'test("no marker", () => assert.ok(!require("fs").existsSync("/tmp/marker")));\n')
FLAKY: list[Reply] = [
    Reply("", [("run_command", {"command": "touch /tmp/marker"})]),
    Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})]),
    Reply("", [("write_file", {"path": "test/flaky.test.js", "content": FLAKY_TEST})]),
    Reply("", [("finish", {"summary": "added a check"})])]


def halted(run: Callable[..., Outcome]) -> Outcome:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY))},
                     coder={"retry_budget": 0}))
    assert out.result.status == "halted"
    return out


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["reproduce", *args])
    return result.exit_code, result.output


def test_a_failing_attempt_reproduces(run: Callable[..., Outcome]) -> None:
    out = halted(run)
    code_, text = invoke(str(out.result.run_dir))
    assert code_ == 0, text
    assert "reproduced" in text
    assert "trims dashes" in text
    assert "the recorded image" in text


def test_a_flaky_failure_is_reported_as_not_reproduced(
        run: Callable[..., Outcome]) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(FLAKY)},
                     coder={"retry_budget": 0}))
    assert out.outcomes("coder") == ["tests_failed"]
    code_, text = invoke(str(out.result.run_dir))
    assert code_ == 1, text
    assert "not reproduced" in text
    assert "flaky" in text


def test_replay_gives_the_same_final_diff(run: Callable[..., Outcome]) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY), code(FIXED)),
                      "reviewer": Plays(APPROVE)}))
    code_, text = invoke(str(out.result.run_dir), "--replay")
    assert code_ == 0, text
    assert "final diff identical" in text
    (replayed,) = [p for p in (out.result.run_dir / "replays").iterdir()
                   if not p.name.startswith(".")]  # .baseline: the suite at the base commit
    assert (replayed / "final.diff").read_bytes() == out.result.patch.read_bytes()


def test_the_shell_runs_a_command_and_cleans_up(
        run: Callable[..., Outcome], client: docker.DockerClient) -> None:
    out = halted(run)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from harness.cli import main; main()", "reproduce",
         str(out.result.run_dir), "--shell"], cwd=ROOT, stdin=slave, stdout=slave,
        stderr=slave, close_fds=True)
    os.close(slave)
    seen = _read_until(master, b"exit the shell", 120)
    os.write(master, b"cat src/slug.js; echo DONE-$((6*7))\n")
    seen += _read_until(master, b"DONE-42", 60)
    os.write(master, b"exit\n")
    assert proc.wait(timeout=60) == 0
    os.close(master)
    assert b'replace(/[^a-z0-9]+/g, "-")' in seen  # the attempt's diff is applied
    left = [c for c in client.containers.list(all=True, filters={"label": LABEL_RUN_DIR})
            if str(out.result.run_dir) in (c.labels or {}).get(LABEL_RUN_DIR, "")]
    assert left == []


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        assert time.monotonic() < deadline, data.decode(errors="replace")[-2000:]
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:
                break
    return data
