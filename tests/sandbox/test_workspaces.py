"""Affected tests in a workspace monorepo with no config: the changed workspace packages and
their dependents, by the package manager's own filter, run in the container; the repository's
package.json files are hostile data on the host."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.image import BuiltImage
from harness.sandbox.testrun import affected_command, run_tests
from harness.sandbox.workspaces import workspace_command
from tests.pipeline.dir_sandbox import DirSandbox
from tests.sandbox.conftest import CFG, git, make_repo
from tests.sandbox.test_deps import lock, manifest

Open = Callable[..., DockerSandbox]


def node_test(name: str, module: str, value: int) -> str:
    return ('const test = require("node:test");\nconst assert = require("node:assert");\n'
            f'const v = require("{module}");\n'
            f'test("{name} value", () => assert.strictEqual(v(), {value}));\n')


@pytest.fixture
def tree(tmp_path: Path) -> DirSandbox:
    root = tmp_path / "tree"
    for rel, text in {"package.json": "{}", "packages/a/package.json": '{"name": "@s/a"}',
                      "packages/b c/package.json": '{"name": "b"}',
                      "packages/bad/package.json": '{"name": "$(touch pwned)"}'}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return DirSandbox(root)


@pytest.mark.parametrize(("command", "scripts", "changed", "expected"), [
    ("pnpm -r --no-bail run test", {}, ["packages/a/src/x.ts", "README.md"],
     "pnpm --filter '...{./packages/a}' -r --no-bail run test"),
    ("pnpm test", {"test": "pnpm --recursive test"}, ["packages/b c/x.js", "packages/a/y.js"],
     "pnpm --filter '...{./packages/a}' --filter '...{./packages/b c}' --recursive test"),
    ("npm test --workspaces --if-present", {}, ["packages/a/x.js"],
     "npm test --if-present -w packages/a"),
    ("npm test", {"test": "npm run test -ws"}, ["packages/a/x.js"],
     "npm run test -w packages/a"),
    ("yarn workspaces foreach -A run test", {}, ["packages/a/x.js", "packages/b c/y.js"],
     "yarn workspaces foreach --include @s/a --include b -A run test"),
])
def test_a_workspace_command_is_narrowed_to_the_changed_packages(
        tree: DirSandbox, command: str, scripts: dict[str, str], changed: list[str],
        expected: str) -> None:
    assert workspace_command(command, scripts, tree, changed) == expected


@pytest.mark.parametrize(("command", "changed"), [
    ("pnpm -r test", ["pnpm-lock.yaml"]),  # the root: any test may change
    ("pnpm -r test", ["packages/a/x.js", "tsconfig.json"]),
    ("pnpm -r test", ["README.md"]),  # prose alone: nothing to narrow to
    ("pnpm -r --filter ./packages/b test", ["packages/a/x.js"]),  # the user chose already
    ("pnpm test", ["packages/a/x.js"]),  # a package's own script, not a workspace run
    ("pnpm -r test && pnpm lint", ["packages/a/x.js"]),  # a shell line
    ("npm test", ["packages/a/x.js"]),
    ("yarn workspaces foreach -A run test", ["packages/bad/x.js"]),  # a name no package has
    ("pnpm -r test", ["../outside/x.js"]),
])
def test_otherwise_no_narrowing(tree: DirSandbox, command: str, changed: list[str]) -> None:
    assert workspace_command(command, {}, tree, changed) is None


def test_a_hostile_directory_name_stays_one_quoted_word(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "packages/$(touch pwned); x").mkdir(parents=True)
    (root / "packages/$(touch pwned); x/package.json").write_text("{}")
    command = workspace_command("pnpm -r test", {}, DirSandbox(root),
                                ["packages/$(touch pwned); x/i.js"])
    assert command is not None
    assert shlex.split(command)[:3] == ["pnpm", "--filter", "...{./packages/$(touch pwned); x}"]


def pnpm_mono(client: docker.DockerClient, image: BuiltImage, tmp_path: Path) -> Path:
    """a; b depends on a; c on nothing. Each package's tests check its own value."""
    def pkg(name: str, deps: dict[str, str], value: int) -> dict[str, str]:
        module = f"../{name}.js" if not deps else "a"
        return {f"packages/{name}/package.json": manifest(
                    name=name, main=f"{name}.js", scripts={"test": "node --test"},
                    dependencies=deps),
                f"packages/{name}/{name}.js": f"module.exports = () => {value};\n",
                f"packages/{name}/test/{name}.test.js": node_test(name, module, value)}

    repo = make_repo(tmp_path / "mono", {
        ".gitignore": "node_modules/\n",
        "package.json": manifest(name="mono", private=True, packageManager="pnpm@9.15.9"),
        "pnpm-workspace.yaml": "packages:\n  - packages/*\n",
        **pkg("a", {}, 1), **pkg("b", {"a": "workspace:*"}, 1), **pkg("c", {}, 3)})
    lock(client, image, repo, "pnpm install --lockfile-only")
    return repo


@pytest.mark.docker
def test_pnpm_runs_the_changed_package_and_its_dependents(
        client: docker.DockerClient, image: BuiltImage, open_sandbox: Open,
        tmp_path: Path) -> None:
    cfg = CFG.model_copy(update={"test_command": "pnpm -r --no-bail run test"})
    sandbox = open_sandbox(pnpm_mono(client, image, tmp_path), cfg)
    full = run_tests(sandbox, cfg, "affected")  # nothing changed yet: the full suite
    assert (full.scope, full.report.passed, full.report.failed) == ("full", 3, 0)
    sandbox.write_file("packages/c/c.js", "module.exports = () => 4;\n")
    only_c = run_tests(sandbox, cfg, "affected")
    assert only_c.scope == "affected"
    assert "--filter '...{./packages/c}'" in only_c.command
    # one package: pnpm prints its output unprefixed
    assert (only_c.report.passed, [t.name for t in only_c.report.failing]) == (0, ["c value"])
    sandbox.write_file("packages/c/c.js", "module.exports = () => 3;\n")
    sandbox.write_file("packages/a/a.js", "module.exports = () => 2;\n")
    a_and_b = run_tests(sandbox, cfg, "affected")  # b imports a: it runs too, c does not
    assert sorted(t.name for t in a_and_b.report.failing) == [
        "packages/a > a value", "packages/b > b value"]
    assert a_and_b.report.passed == 0
    whole = run_tests(sandbox, cfg, "full")  # the verdict before acceptance: every package
    assert (whole.scope, whole.report.passed, whole.report.failed) == ("full", 1, 2)


@pytest.mark.docker
def test_hostile_package_json_files_neither_break_nor_leak(open_sandbox: Open,
                                                          tmp_path: Path) -> None:
    """A package.json that is a symlink to a host file, one of 5 MB, one that does not parse,
    and a file the tests left as a symlink out of the checkout: the affected run falls back to
    the full suite or a narrowing that names no host content; nothing raises."""
    secret = tmp_path / "host-secret.json"
    secret.write_text(json.dumps({"name": "host-secret-name"}))
    repo = make_repo(tmp_path / "evil", {
        "package.json": manifest(name="evil", private=True),
        "packages/big/package.json": '{"name": "big", "x": "' + "a" * (5 << 20) + '"}',
        "packages/big/i.js": "", "packages/bad/package.json": '{"name": ',
        "packages/bad/i.js": "", "packages/link/i.js": "", "packages/ok/package.json": "{}"})
    (repo / "packages/link/package.json").symlink_to(secret)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a package.json linked to a host file")
    cfg = CFG.model_copy(update={"test_command": "node --test"})
    sandbox = open_sandbox(repo, cfg)
    yarn = "yarn workspaces foreach -A run test"
    for package in ("big", "bad", "link"):
        changed = [f"packages/{package}/i.js"]
        assert workspace_command(yarn, {}, sandbox, changed) is None
    template = affected_command("echo {changed_packages}", sandbox, ["packages/link/i.js"])
    assert "host-secret" not in template
    # a symlink a test run left in the worktree, leading out of the checkout
    assert sandbox.exec("ln -s /etc/hostname packages/ok/leak.js").exit_code == 0
    run = run_tests(sandbox, cfg, "affected")
    assert run.scope == "full"
    ran = run_tests(sandbox, cfg.model_copy(update={"test_command": "pnpm -r test"}),
                    "affected")
    assert "host-secret" not in ran.command + ran.result.stdout + ran.result.stderr
