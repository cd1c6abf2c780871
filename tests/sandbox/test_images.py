"""Images on an engine shared by several runs and worktrees: reuse by label instead of rebuilds,
gc that never takes a build in progress or an image a run is about to use, builds under the
ticket container's limits."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator

import docker
import docker.errors
import pytest

from harness.errors import ImageBuildError
from harness.sandbox.build import BUILD_LABEL, HASH_LABEL, Build, BuiltImage, run_build
from harness.sandbox.gc import collect_garbage
from harness.sandbox.image import existing, hash_tag, sandbox_image
from tests.sandbox.conftest import CFG, ROOT

pytestmark = pytest.mark.docker  # every test here needs the engine


@pytest.fixture
def scratch(client: docker.DockerClient) -> Iterator[str]:
    """A repository name for this test's images, all removed at the end."""
    name = f"harness-test-{uuid.uuid4().hex[:8]}"
    yield name
    for image in client.api.images(name=name):
        for tag in image.get("RepoTags") or []:
            client.api.remove_image(tag, force=True)


def build(client: docker.DockerClient, base: BuiltImage, tag: str, script: str,
          **kw: object) -> BuiltImage:
    return run_build(client, Build(base.id, tag, uuid.uuid4().hex, script, user="1000:1000",
                                   timeout=120, **kw), CFG, lambda _: None)  # type: ignore[arg-type]


def test_an_image_is_found_by_its_label_under_any_tag_or_none(
        client: docker.DockerClient, image: BuiltImage, scratch: str) -> None:
    made = build(client, image, f"{scratch}:one", "echo hi > /tmp/mark")
    key = made.labels[HASH_LABEL]
    again = existing(client, f"{scratch}:two", key)
    assert again is not None
    assert again.reused
    assert again.id == made.id
    assert client.images.get(f"{scratch}:two").id == made.id
    client.api.remove_image(f"{scratch}:one")
    client.api.tag("debian:bookworm-slim", scratch, "two")  # the tag moved: made is dangling
    assert not client.images.get(made.id).tags
    found = existing(client, f"{scratch}:three", key)
    assert found is not None
    assert found.id == made.id
    assert existing(client, f"{scratch}:four", "0" * 64) is None


def test_a_moved_shared_tag_is_retagged_not_rebuilt(client: docker.DockerClient,
                                                    image: BuiltImage, scratch: str) -> None:
    """Two worktrees with different Dockerfiles share `harness-sandbox:latest`: each finds its
    own image again by label (it kept its hash tag) instead of building it again."""
    cfg = CFG.model_copy(update={"image": f"{scratch}:latest"})
    mine = sandbox_image(client, cfg, config_dir=ROOT, progress=lambda _: None)
    assert mine.id == image.id
    assert mine.reused
    client.api.tag(client.images.get("debian:bookworm-slim").id, scratch, "latest")  # elsewhere
    lines: list[str] = []
    again = sandbox_image(client, cfg, config_dir=ROOT, progress=lines.append)
    assert (again.id, again.reused, lines) == (image.id, True, [])
    assert client.images.get(f"{scratch}:latest").id == image.id
    key = image.labels[HASH_LABEL]
    assert client.images.get(hash_tag("harness-sandbox:latest", key)).id == image.id


def test_gc_leaves_a_build_in_progress_alone(client: docker.DockerClient, image: BuiltImage,
                                             scratch: str) -> None:
    result: list[BuiltImage] = []

    def slow() -> None:
        result.append(build(client, image, f"{scratch}:slow",
                            "echo up; sleep 4; echo made > /tmp/made", network=False))

    thread = threading.Thread(target=slow)
    thread.start()
    while not client.api.containers(filters={"label": BUILD_LABEL, "ancestor": image.id}):
        thread.join(0.2)
        assert thread.is_alive()
    gc = subprocess.run([sys.executable, "-c", "from harness.sandbox.engine import connect; "
                         "from harness.sandbox.gc import collect_garbage; "
                         "print(collect_garbage(connect()).containers)"],
                        capture_output=True, text=True, check=True)
    thread.join(120)
    assert result, gc.stdout
    out = client.containers.run(result[0].id, ["cat", "/tmp/made"], remove=True)
    assert out == b"made\n"


HOLD_BUILD = textwrap.dedent("""
    import sys
    from harness.config.schema import SandboxConfig
    from harness.sandbox.build import Build, run_build
    from harness.sandbox.engine import connect
    run_build(connect(), Build(sys.argv[1], sys.argv[2], "k", "echo up; sleep 600",
                               user="1000:1000", timeout=900, network=False),
              SandboxConfig(), lambda line: print(line, flush=True))
""")


def test_gc_removes_the_build_container_of_a_dead_process(
        client: docker.DockerClient, image: BuiltImage, scratch: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_BUILD, image.id, f"{scratch}:x"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "up"
    mine = {"label": BUILD_LABEL, "ancestor": image.id}
    ids = {c["Id"] for c in client.api.containers(filters=mine)}
    collect_garbage(client)
    assert ids <= {c["Id"] for c in client.api.containers(filters=mine)}  # alive: kept
    proc.kill()
    proc.wait()
    done = collect_garbage(client)
    left = {c["Id"] for c in client.api.containers(all=True, filters=mine)}
    assert ids
    assert not ids & left
    assert {i[:12] for i in ids} <= set(done.containers)


def test_a_build_runs_with_the_ticket_containers_limits(client: docker.DockerClient,
                                                        image: BuiltImage, scratch: str) -> None:
    made = build(client, image, f"{scratch}:limits",
                 "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max "
                 "2>/dev/null > /tmp/mem; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max "
                 "2>/dev/null > /tmp/pids; grep CapEff /proc/self/status > /tmp/caps; "
                 "grep NoNewPrivs /proc/self/status >> /tmp/caps")
    read = "cat /tmp/mem /tmp/pids /tmp/caps"
    out = client.containers.run(made.id, ["bash", "-c", read], remove=True).decode()
    mem, pids, caps, nnp = out.split("\n")[:4]
    assert int(mem) == 512 * 1024 * 1024  # CFG.memory
    assert int(pids) == CFG.pids_limit
    assert caps.split()[1] == "0000000000000000"
    assert nnp.split()[1] == "1"


def test_a_failing_or_overlong_build_says_so_and_leaves_nothing(
        client: docker.DockerClient, image: BuiltImage, scratch: str) -> None:
    with pytest.raises(ImageBuildError, match=r"exited 3:\nbroken"):
        build(client, image, f"{scratch}:bad", "echo broken; exit 3")
    with pytest.raises(ImageBuildError, match="timed out"):
        run_build(client, Build(image.id, f"{scratch}:slow", "k", "sleep 60", user="1000:1000",
                                timeout=2, network=False), CFG, lambda _: None)
    assert not client.api.images(name=scratch)
    assert not client.api.containers(all=True, filters={"label": BUILD_LABEL,
                                                        "ancestor": image.id})
