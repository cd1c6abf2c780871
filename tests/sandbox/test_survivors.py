"""No command outlives itself through /proc, and host git never races the container.

Two layers, each tested on its own:

* the reaper (PID 1) and the exec supervisor are not dumpable, so a command cannot open their
  ``/proc/PID/mem`` (to inject code and survive the sweep, or forge the supervisor's result) nor
  read their environment or descriptors;
* host git reads the checkout only while the container is frozen, so even a process that did
  survive (simulated here by a ``docker exec`` that bypasses the supervisor) cannot swap a file
  for a symlink to a host path between git's ``lstat`` and its ``open``.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.sandbox.docker_sandbox import CONTAINER_UID, DockerSandbox

pytestmark = pytest.mark.docker

Open = Callable[..., DockerSandbox]

PROBE = textwrap.dedent("""\
    import os, sys
    for pid in (1, os.getppid()):
        for name, mode in (("mem", "r+b"), ("environ", "rb")):
            try:
                # Opening is the check: for mem the kernel asks for ptrace-attach rights.
                open(f"/proc/{pid}/{name}", mode).close()
                print(f"OPENED {pid} {name}")
            except OSError as exc:
                print(f"refused {pid} {name} {exc.errno}")
    """)


def test_a_command_cannot_open_the_memory_of_pid1_or_its_supervisor(sandbox: DockerSandbox
                                                                     ) -> None:
    result = sandbox.exec(["python3", "-c", PROBE])
    assert result.exit_code == 0, result.stderr
    assert "OPENED" not in result.stdout, result.stdout
    assert result.stdout.count("refused") == 4


def test_a_command_cannot_attach_to_pid1_with_ptrace(sandbox: DockerSandbox) -> None:
    attach = ("import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
              "print(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())")  # PTRACE_ATTACH
    result = sandbox.exec(["python3", "-c", attach])
    assert result.stdout.split()[0] == "-1", result.stdout


# Swaps a regular file with a symlink to a host path as fast as it can (renameat2 with
# RENAME_EXCHANGE is atomic): host git that lstat()s the regular file and then open()s the
# symlink would read the host file into the private object store and the diff.
SWAPPER = textwrap.dedent("""\
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    os.chdir("/workspace")
    with open("bait.txt", "w") as f:
        f.write("harmless\\n")
    os.symlink({target!r}, "swap.tmp")
    while True:
        libc.renameat2(-100, b"bait.txt", -100, b"swap.tmp", 2)
    """)


@pytest.fixture
def host_secret(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    secret = f"host-secret-{uuid.uuid4().hex}"
    path = Path("/tmp") / f"harness-secret-{uuid.uuid4().hex}"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    yield path, secret
    path.unlink(missing_ok=True)


def test_a_surviving_swapper_never_puts_a_host_byte_in_a_diff(
        sandbox: DockerSandbox, host_secret: tuple[Path, str]) -> None:
    path, secret = host_secret
    # A survivor: started beside the supervisor, so nothing sweeps it (as if it had taken over
    # PID 1). It runs for the whole test.
    sandbox.container.exec_run(["python3", "-c", SWAPPER.format(target=str(path))],
                               detach=True, user="{}:{}".format(*CONTAINER_UID))
    seen = []
    for _ in range(60):
        seen.append(sandbox.diff())
        sandbox.changed_files()
    assert any("bait.txt" in d or "swap.tmp" in d for d in seen), "the swapper never ran"
    assert not any(secret in d for d in seen)
    sandbox.container.reload()
    assert sandbox.container.status == "running"  # thawed after every read


def test_a_command_right_after_a_thaw_runs(sandbox: DockerSandbox) -> None:
    # The engine can report a container paused for a moment after unpause returned (409 on
    # exec, ~1 cycle in 75 on dockerd 20.10): that lag must not read as a broken sandbox. And
    # containerd 1.6 can lose a short exec's exit: the read must end at the result line (a
    # short timeout, so a regression fails in seconds instead of hanging for the default).
    for _ in range(int(os.environ.get("THAW_CYCLES", "300"))):
        with sandbox.frozen():
            pass
        assert sandbox.exec("true", timeout=10).exit_code == 0
