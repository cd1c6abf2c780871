"""The checkout's disk quota: a command that writes past it is stopped, says so, and the
checkout can be cleaned up but not grown further."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.sandbox import quota
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.quota import disk_usage
from tests.sandbox.conftest import CFG

QUOTA = 64 << 20
# How far past the quota a writer may get: 26-148 MiB measured on a loaded 2-core machine
# (the tests print it); the writers try 2 GiB.
ALLOWED = 512 << 20
# 2 GiB in files of 32 MiB: no one file reaches the quota (RLIMIT_FSIZE would stop it).
WRITE_2G = "head -c 2G /dev/zero | split -b 32M - {}."
MANY_FILES = ("python3 -c \"\nimport os\nos.makedirs('many')\nblock = b'x' * (1 << 20)\n"
              "for i in range(2048):\n    open('many/%d' % i, 'wb').write(block)\n\"")


def used(sandbox: DockerSandbox) -> int:
    return disk_usage(sandbox.workspace.path)


@pytest.fixture
def small(open_sandbox: Callable[..., DockerSandbox], repo: Path) -> DockerSandbox:
    return open_sandbox(repo, CFG.model_copy(update={"workspace_quota": QUOTA}))


@pytest.mark.docker
@pytest.mark.parametrize("command", [WRITE_2G.format("big"), MANY_FILES])
def test_a_fast_writer_is_stopped_past_the_quota(small: DockerSandbox, command: str) -> None:
    before = used(small)
    done = small.exec(command, timeout=120)
    past = used(small) - before - QUOTA
    print(f"\n{command[:7]}: {past / (1 << 20):.0f} MiB past the quota when stopped, "
          f"after {done.duration:.2f}s")
    assert 0 < past < ALLOWED
    assert not done.ok
    assert "sandbox.workspace_quota" in done.summary()
    assert "raise sandbox.workspace_quota in stages.yaml" in done.stderr


@pytest.mark.docker
def test_after_a_stop_the_checkout_can_shrink_but_not_grow(small: DockerSandbox) -> None:
    assert not small.exec(WRITE_2G.format("big"), timeout=120).ok
    stopped_at = used(small)
    again = small.exec(WRITE_2G.format("more"), timeout=120)
    print(f"\nsecond writer: {(used(small) - stopped_at) >> 20} MiB more")
    assert used(small) - stopped_at < ALLOWED
    assert "stopped" in again.summary()
    cleaned = small.exec("rm -f big.* more.* && echo gone")
    assert cleaned.ok
    assert cleaned.stdout == "gone\n"
    assert small.exec("head -c 1M /dev/zero > ok.bin && echo fine").stdout == "fine\n"
    assert small.changed_files() == ["ok.bin"]


@pytest.mark.docker
def test_no_one_file_outgrows_the_quota(small: DockerSandbox) -> None:
    """fallocate claims 2 GiB in one call, before any watcher can look: RLIMIT_FSIZE stops it,
    in the checkout and in the container's own filesystem alike."""
    before = used(small)
    done = small.exec("fallocate -l 2G one; echo $?; truncate -s 2G /tmp/sparse; echo $?")
    assert used(small) - before <= QUOTA
    assert done.stdout.split() == ["153", "153"]  # killed by SIGXFSZ
    assert small.exec(f"head -c {QUOTA} /dev/zero > /tmp/fits && echo ok").stdout == "ok\n"


@pytest.mark.docker
def test_a_command_under_the_quota_runs_as_before(small: DockerSandbox) -> None:
    done = small.exec("head -c 8M /dev/zero > mid.bin && echo done")
    assert done.ok
    assert done.stdout == "done\n"


def test_a_stale_measure_over_the_limit_is_taken_again_before_a_stop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a clean-up the filesystem reports the freed blocks while the last walk still saw
    them: that walk must not stop the next command (it did, when ext4 freed them in time)."""
    fs = [1 << 40]
    monkeypatch.setattr(quota, "filesystem_used", lambda _path: fs[0])
    quota_ = quota.Quota(tmp_path, 1 << 20)
    stops: list[int] = []
    (tmp_path / "big").write_bytes(b"x" * (4 << 20))
    fs[0] += 4 << 20
    with quota_.watch(lambda: stops.append(1)) as first:
        time.sleep(0.2)
    assert first.over is not None
    with quota_.watch(lambda: stops.append(2)) as cleanup:
        (tmp_path / "big").unlink()
        fs[0] -= 1 << 30  # freed, and something else on the disk freed more
    with quota_.watch(lambda: stops.append(3)) as after:
        time.sleep(0.2)
    assert cleanup.over is None
    assert after.over is None
    assert stops == [1]
