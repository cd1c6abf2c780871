"""Dependency images for repositories as they come: each one's own Node and package manager,
whole workspaces, lifecycle scripts that need sources (left to the tests), node_modules the
tests' user can write, and nothing from the host outside the repository. Lockfiles are made at
test time, in the repository's own toolchain image (so none is committed here)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.image import BuiltImage, dependency_image, sandbox_image, toolchain_image
from harness.sandbox.sources import Commit
from harness.sandbox.testrun import Judge, run_tests
from harness.sandbox.toolchain import Repo, detect
from tests.sandbox.conftest import CFG, ROOT, git, make_repo

pytestmark = pytest.mark.docker  # every test here needs the engine

Open = Callable[..., DockerSandbox]
IGNORE = "node_modules\n"
A_INDEX = 'module.exports = (x) => require("is-number")(x);\n'
B_TEST = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
          'test("b sees a and is-odd", () => {\n'
          '  assert.strictEqual(require("a")(3), true);\n'
          '  assert.strictEqual(require("is-odd")(3), true);\n});\n')


def lock(client: docker.DockerClient, image: BuiltImage, repo: Path, command: str) -> None:
    """Run ``command`` (a lockfile-only install) in the repository's toolchain image, online,
    then commit what it wrote."""
    base = toolchain_image(client, image, detect(Repo.read(Commit(repo, "HEAD"))), CFG,
                           lambda _: None)
    client.containers.run(base.id, ["bash", "-c", command], user="0:0", working_dir="/w",
                          volumes={str(repo): {"bind": "/w", "mode": "rw"}}, remove=True,
                          environment={"HOME": "/tmp", "CI": "1"})
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "lockfile")


def manifest(**fields: object) -> str:
    return json.dumps({"version": "1.0.0", **fields}, indent=2) + "\n"


def pnpm_workspace(client: docker.DockerClient, image: BuiltImage, tmp_path: Path,
                   ignore: str) -> Path:
    """Two pnpm workspace packages, b depending on a, locked by pnpm itself."""
    repo = make_repo(tmp_path / "pn", {
        ".gitignore": ignore,
        "package.json": manifest(name="pn", private=True, packageManager="pnpm@9.15.9",
                                 scripts={"test": "pnpm -r test"}),
        "pnpm-workspace.yaml": "packages:\n  - packages/*\n",
        "packages/a/package.json": manifest(name="a", main="index.js",
                                            dependencies={"is-number": "7.0.0"}),
        "packages/a/index.js": A_INDEX,
        "packages/b/package.json": manifest(name="b", scripts={"test": "node --test"},
                                            dependencies={"a": "workspace:*", "is-odd": "3.0.1"}),
        "packages/b/test/b.test.js": B_TEST})
    lock(client, image, repo, "pnpm install --lockfile-only")
    return repo


def test_a_pnpm_workspace_installs_every_package(client: docker.DockerClient, image: BuiltImage,
                                                  open_sandbox: Open, tmp_path: Path) -> None:
    repo = pnpm_workspace(client, image, tmp_path, IGNORE)
    cfg = CFG.model_copy(update={"test_command": "pnpm test"})
    sandbox = open_sandbox(repo, cfg)
    run = run_tests(sandbox, cfg)
    assert run.passed, run.feedback()
    assert (run.report.passed, run.report.failed) == (1, 0)
    probe = sandbox.exec("touch packages/b/node_modules/.probe node_modules/.probe && "
                         "stat -c %U node_modules/ packages/b/node_modules/ && node --version")
    assert probe.exit_code == 0, probe.stderr
    assert probe.stdout.splitlines()[:2] == ["agent", "agent"]  # the tests' user owns them
    assert probe.stdout.splitlines()[2].startswith("v22.")
    assert sandbox.diff() == ""  # the links into /deps are ignored, never part of a change


def test_links_stay_out_of_the_diff_when_the_ignore_rule_is_for_directories(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    """``node_modules/`` matches directories only; the links link_deps.py makes are symlinks,
    which git would add: they are excluded by name and target, not by the ignore rules."""
    repo = pnpm_workspace(client, image, tmp_path, "node_modules/\n")
    cfg = CFG.model_copy(update={"test_command": "pnpm test"})
    sandbox = open_sandbox(repo, cfg)
    run = run_tests(sandbox, cfg)
    assert run.passed, run.feedback()
    links = sandbox.exec("readlink node_modules packages/b/node_modules")
    assert links.stdout.split() == ["/deps/node_modules", "/deps/packages/b/node_modules"]
    assert sandbox.diff() == ""
    assert sandbox.changed_files() == []
    sandbox.write_file("packages/a/index.js", "module.exports = () => true;\n")
    assert sandbox.changed_files() == ["packages/a/index.js"]


def test_yarn_berry_plug_and_play_runs_with_node_modules(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "berry", {
        ".gitignore": IGNORE + ".yarn/\n.pnp.*\n",
        "package.json": manifest(name="berry", private=True, packageManager="yarn@4.5.3",
                                 dependencies={"is-number": "7.0.0"},
                                 scripts={"check": "node -e \"process.exit(require('is-number')"
                                                   "(5) ? 0 : 1)\""})})
    lock(client, image, repo, "yarn install --mode=update-lockfile")
    assert "__metadata" in (repo / "yarn.lock").read_text()
    deps = dependency_image(client, image, Commit(repo, "HEAD"), CFG, lambda _: None)
    assert json.loads(deps.labels["harness.deps"])["env"] == {"YARN_NODE_LINKER": "node-modules"}
    sandbox = open_sandbox(repo)
    result = sandbox.exec("yarn --version && yarn check")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "4.5.3"


def test_yarn_classic_and_a_prepare_script_left_to_the_tests(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "classic", {
        ".gitignore": IGNORE + "dist/\n",
        # a manifest of its own, so an image an earlier run built for it is never reused: the
        # test reads the build's log
        "package.json": manifest(name="classic", packageManager="yarn@1.22.22",
                                 description=f"run {uuid.uuid4().hex}",
                                 dependencies={"is-number": "7.0.0"},
                                 scripts={"prepare": "node scripts/build.js"}),
        "scripts/build.js": ('const fs = require("fs");\nfs.mkdirSync("dist", {recursive: true});'
                             '\nfs.copyFileSync("src/index.js", "dist/index.js");\n'),
        "src/index.js": "module.exports = 1;\n"})
    lock(client, image, repo, "yarn install --ignore-scripts --non-interactive && "
                              "rm -rf node_modules")
    lines: list[str] = []
    dependency_image(client, image, Commit(repo, "HEAD"), CFG, lines.append)
    # The build has the manifest and lockfile only, so the repository's own prepare (which
    # needs its sources) is not run there: building is the test command's job.
    assert not any("scripts/build.js" in line for line in lines), lines[-20:]
    assert any("Done in" in line for line in lines), lines[-20:]
    sandbox = open_sandbox(repo)
    result = sandbox.exec("yarn --version && node -e 'require(\"is-number\")'")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "1.22.22"
    assert not sandbox.exists("dist")  # the build's output stayed in the build


def test_the_repositorys_node_and_no_install_without_dependencies(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "n20", {".nvmrc": "20\n", "package.json": manifest(name="n")})
    built = dependency_image(client, image, Commit(repo, "HEAD"), CFG, lambda _: None)
    assert built.tag.startswith("harness-toolchain:")
    assert json.loads(built.labels["harness.toolchain"])["node"].startswith("20.")
    result = open_sandbox(repo).exec("node --version && npm --version")
    assert result.stdout.startswith("v20."), result.stderr


def test_a_link_out_of_the_repository_never_reaches_the_build(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    """--include-uncommitted: a committed package-lock.json and a workspace manifest that are
    links to a host file, and an uncommitted .npmrc linked the same way."""
    secret = tmp_path / "host" / "token.json"
    secret.parent.mkdir()
    secret.write_text('{"name": "HOST-SECRET-7f3e", "dependencies": {"is-number": "7.0.0"}}\n')
    repo = make_repo(tmp_path / "hostile", {
        ".gitignore": IGNORE,
        "package.json": manifest(name="h", workspaces=["packages/*"],
                                 dependencies={"is-number": "7.0.0"})})
    (repo / "packages" / "x").mkdir(parents=True)
    os.symlink(secret, repo / "package-lock.json")
    os.symlink(secret, repo / "packages" / "x" / "package.json")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "links")
    os.symlink(secret, repo / ".npmrc")  # uncommitted
    lines: list[str] = []
    sandbox = open_sandbox(repo, include_uncommitted=True)
    image_id = str(sandbox.container.attrs["Image"])
    deps = dependency_image(client, image, repo, CFG, lines.append)
    assert deps.id == image_id
    assert "HOST-SECRET" not in "\n".join(lines)
    found = client.containers.run(image_id, ["bash", "-c", "grep -rl HOST-SECRET /deps "
                                             "/workspace /tmp 2>/dev/null; true"], remove=True)
    assert found == b""
    assert sandbox.exec("node -e 'require(\"is-number\")'").exit_code == 0


def test_the_agent_clis_keep_their_own_node(client: docker.DockerClient, tmp_path: Path) -> None:
    node = "20"
    cfg = CFG.model_copy(update={"image": "harness-sandbox:clis", "install_clis": True,
                                 "memory": "2g", "pids_limit": 512})
    clis = sandbox_image(client, cfg, config_dir=ROOT, progress=lambda _: None)
    repo = make_repo(tmp_path / "r", {".nvmrc": node, "package.json": manifest(name="r")})
    built = dependency_image(client, clis, Commit(repo, "HEAD"), cfg, lambda _: None)
    out = client.containers.run(built.id, ["bash", "-c", "node --version; "
                                           "gemini --version; claude --version"],
                                remove=True, network_mode="none").decode()
    assert out.startswith(f"v{node}."), out
    assert len(out.strip().splitlines()) == 3


def test_vitest_is_asked_for_a_report_that_lists_passing_tests(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    """A suite with a failure from before the ticket: the fail-to-pass test is seen to pass in
    the JUnit report vitest writes beside its default output, so the verdict can pass."""
    repo = make_repo(tmp_path / "vt", {
        ".gitignore": IGNORE,
        "package.json": manifest(name="vt", private=True, type="module",
                                 scripts={"test": "vitest run"},
                                 devDependencies={"vitest": "3.2.4"}),
        "sum.js": "export const sum = (a, b) => a - b;\n",
        "sum.test.js": ('import { expect, test } from "vitest";\nimport { sum } from "./sum.js";\n'
                        'test("adds", () => expect(sum(2, 3)).toBe(5));\n'),
        "legacy.test.js": ('import { expect, test } from "vitest";\n'
                           'test("was always broken", () => expect(1).toBe(2));\n')})
    lock(client, image, repo, "npm install --package-lock-only --no-audit --no-fund")
    cfg = CFG.model_copy(update={"test_command": "npm test", "memory": "2g"})
    sandbox = open_sandbox(repo, cfg)
    judge = Judge(None, "base", "image", ("adds",))
    baseline = judge.prepare(sandbox, cfg)
    assert baseline is not None
    assert sorted(baseline.failing) == ["adds", "was always broken"]
    assert baseline.format == "junit"
    sandbox.write_file("sum.js", "export const sum = (a, b) => a + b;\n")
    run = run_tests(sandbox, cfg, judge_by=judge)
    assert "&& npm test -- --reporter=default --reporter=junit" in run.command
    assert run.result.exit_code != 0  # the old failure still fails the command
    assert run.report.passing == ("adds",)
    assert run.verdict is not None
    assert run.verdict.as_dict() == {"passed": True, "how": "baseline", "new_failures": [],
                                     "pre_existing": ["was always broken"],
                                     "fail_to_pass": {"adds": "passed"}}
    assert run.passed
    assert sandbox.diff().count("diff --git") == 1  # the report stayed out of the worktree
