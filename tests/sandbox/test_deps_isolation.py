"""Dependency builds against a hostile repository: what one commit's lifecycle scripts do never
reaches another commit's tests through the shared image, and an install reaches the registry
and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.image import BuiltImage, dependency_image
from harness.sandbox.sources import Commit
from tests.sandbox.conftest import CFG, git, make_repo
from tests.sandbox.test_deps import IGNORE, lock, manifest

pytestmark = pytest.mark.docker  # every test here needs the engine

Open = Callable[..., DockerSandbox]
POISON = ('const fs = require("fs");\n'
          'fs.writeFileSync("node_modules/is-number/index.js", '
          '"module.exports = () => \\"POISONED\\";\\n");\n'
          'fs.writeFileSync("node_modules/.poisoned", "1");\n')


def test_a_commits_lifecycle_script_never_poisons_another_commits_image(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    """Two commits with the same manifest and lockfile share one dependency image. The first
    one's postinstall runs a file the key does not cover, which rewrites a dependency; the
    second commit's tests must see the registry's package, not the first one's poison."""
    repo = make_repo(tmp_path / "poison", {
        ".gitignore": IGNORE,
        # a manifest of its own each run, so no image an earlier run built is reused
        "package.json": manifest(name="poison", description=f"run {uuid.uuid4().hex}",
                                 dependencies={"is-number": "7.0.0"},
                                 scripts={"postinstall": "node tools/setup.js"}),
        "tools/setup.js": POISON})
    lock(client, image, repo, "npm install --package-lock-only --ignore-scripts")
    poisoned = git(repo, "rev-parse", "HEAD").strip()
    (repo / "tools" / "setup.js").write_text("// nothing to set up\n")
    git(repo, "commit", "-qam", "benign setup")
    clean = git(repo, "rev-parse", "HEAD").strip()
    first = dependency_image(client, image, Commit(repo, poisoned), CFG, lambda _: None)
    second = dependency_image(client, image, Commit(repo, clean), CFG, lambda _: None)
    assert first.id == second.id  # the same key: the image is shared, as it should be
    sandbox = open_sandbox(repo, base=clean)
    result = sandbox.exec("node -e 'console.log(require(\"is-number\")(3))'; "
                          "ls /deps/node_modules/.poisoned 2>&1; true")
    assert result.stdout.splitlines()[0] == "true", result.stdout + result.stderr
    assert "POISONED" not in result.stdout
    assert "No such file" in result.stdout
