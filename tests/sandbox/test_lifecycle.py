"""Cleanup: containers and worktrees go away on close, on SIGTERM, and (via gc) after kill -9.
Dependency images are keyed by lockfile and reused."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from harness.config.schema import SandboxConfig
from harness.sandbox.base import Sandbox
from harness.sandbox.docker_sandbox import LABEL_RUN
from harness.sandbox.gc import collect_garbage
from harness.sandbox.image import BuiltImage, dependency_image
from harness.sandbox.sources import Commit
from tests.sandbox.conftest import CFG, ROOT, git, make_repo

pytestmark = pytest.mark.docker  # every test here needs the engine

Open = Callable[..., Sandbox]

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from harness.config.schema import SandboxConfig
    from harness.sandbox.engine import connect
    from harness.sandbox.session import TicketSpec, ticket_sandbox
    spec = TicketSpec(repo=Path(sys.argv[1]), run_dir=Path(sys.argv[2]), run_id=sys.argv[3],
                      ticket="T-9")
    with ticket_sandbox(connect(), SandboxConfig(), spec, config_dir=Path(sys.argv[4]),
                        progress=lambda _: None) as sb:
        print(sb.container.id, flush=True)
        time.sleep(600)
""")


def containers(client: docker.DockerClient, run_id: str) -> list[str]:
    found = client.containers.list(all=True, filters={"label": f"{LABEL_RUN}={run_id}"})
    return [c.id for c in found]


def hold(repo: Path, run_dir: Path, run_id: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(repo), str(run_dir), run_id,
                             str(ROOT)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip()  # the container is up
    return proc


def test_close_removes_container_and_worktree(client: docker.DockerClient, open_sandbox: Open,
                                              repo: Path) -> None:
    sandbox = open_sandbox(repo)
    run_id = sandbox.container.labels[LABEL_RUN]  # type: ignore[attr-defined]
    path = sandbox.workspace.path  # type: ignore[attr-defined]
    sandbox.close()
    sandbox.close()
    assert containers(client, run_id) == []
    assert not path.exists()


def test_sigterm_cleans_up(client: docker.DockerClient, image: BuiltImage, repo: Path,
                           tmp_path: Path) -> None:
    proc = hold(repo, tmp_path / "run", "sigterm-run")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert containers(client, "sigterm-run") == []
    assert not (tmp_path / "run" / "workspace").exists()


def test_no_orphans_after_kill_9(client: docker.DockerClient, image: BuiltImage, repo: Path,
                                 tmp_path: Path) -> None:
    live = hold(repo, tmp_path / "live", "live-run")
    doomed = hold(repo, tmp_path / "doomed", "doomed-run")
    doomed.kill()
    doomed.wait()
    assert containers(client, "doomed-run")  # left behind by kill -9 ...
    done = collect_garbage(client)
    assert containers(client, "doomed-run") == []  # ... and collected
    assert str(tmp_path / "doomed" / "workspace") in done.worktrees
    assert not (tmp_path / "doomed" / ".workspace.git").exists()  # its private git dir too
    assert (tmp_path / "live" / ".workspace.git").is_dir()
    assert containers(client, "live-run")  # a live run is never touched
    live.send_signal(signal.SIGTERM)
    live.wait(timeout=60)
    assert not (tmp_path / "live" / ".workspace.git").exists()
    # Nothing was ever registered in the user's repository (no git worktree to prune).
    assert git(repo, "worktree", "list").count("\n") == 1


def test_dependency_image_is_reused_for_the_same_lockfile(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    manifest = {"name": "dep-demo", "version": "1.0.0", "dependencies": {"is-number": "7.0.0"}}
    repo = make_repo(tmp_path / "deps-repo", {"package.json": json.dumps(manifest, indent=2)})
    subprocess.run(["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit",
                    "--no-fund"], cwd=repo, check=True, capture_output=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "lock")
    lines: list[str] = []
    first = dependency_image(client, image, repo, CFG, lines.append)
    started = time.monotonic()
    second = dependency_image(client, image, repo, CFG, lines.append)
    assert second.reused
    assert second.id == first.id
    assert time.monotonic() - started < 5
    assert any("reusing" in line for line in lines)
    head = git(repo, "rev-parse", "HEAD").strip()  # the key read from the commit is the same
    assert dependency_image(client, image, Commit(repo, head), CFG, lines.append).id == first.id
    sandbox = open_sandbox(repo)
    r = sandbox.exec("node -e 'console.log(require(\"is-number\")(5))'")
    assert r.stdout == "true\n", r.stderr
    assert not (sandbox.workspace.path / "node_modules").exists()  # type: ignore[attr-defined]
    assert not (repo / "node_modules").exists()


def test_setup_command_changes_the_key(client: docker.DockerClient, image: BuiltImage,
                                       tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"package.json": "{}"})
    none = dependency_image(client, image, repo, CFG, lambda _: None)
    assert none.tag.startswith("harness-toolchain:")  # nothing to install: Node alone
    cfg = SandboxConfig(setup_command="echo installed > /workspace/marker")
    built = dependency_image(client, image, repo, cfg, lambda _: None)
    assert built.tag.startswith("harness-deps:")
    assert built.id != image.id
