"""The runner's own related-tests selection, derived from the test command with no config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from harness.sandbox.affected import related_command
from harness.sandbox.docker_sandbox import DockerSandbox
from harness.sandbox.image import BuiltImage
from harness.sandbox.testrun import run_tests
from tests.sandbox.conftest import CFG, make_repo
from tests.sandbox.test_deps import lock, manifest

Open = Callable[..., DockerSandbox]

JEST = {"test": "jest --ci"}
VITEST = {"test": "vitest run --coverage"}


@pytest.mark.parametrize(("command", "scripts", "expected"), [
    ("pnpm jest --env node", {}, "pnpm jest --env node --passWithNoTests --findRelatedTests "
     "src/a.ts 'src/my file.ts'"),
    ("npx vitest run", {}, "npx vitest related --run --passWithNoTests src/a.ts "
     "'src/my file.ts'"),
    ("yarn vitest run -t '^(?!.*performance)'", {},
     "yarn vitest related --run --passWithNoTests -t '^(?!.*performance)' src/a.ts "
     "'src/my file.ts'"),
    ("vitest", {}, "vitest related --run --passWithNoTests src/a.ts 'src/my file.ts'"),
    ("npm test", JEST, "npm test -- --passWithNoTests --findRelatedTests src/a.ts "
     "'src/my file.ts'"),
    ("pnpm test", JEST, "pnpm test --passWithNoTests --findRelatedTests src/a.ts "
     "'src/my file.ts'"),
    ("pnpm run test", VITEST, "pnpm exec vitest related --run --passWithNoTests --coverage "
     "src/a.ts 'src/my file.ts'"),
    ("npm test", VITEST, "npx --no-install vitest related --run --passWithNoTests --coverage "
     "src/a.ts 'src/my file.ts'"),
])
def test_a_known_runner_is_asked_for_the_related_tests(command: str, scripts: dict[str, str],
                                                       expected: str) -> None:
    changed = ["src/a.ts", "readme.md", "src/my file.ts", "docs/LICENSE"]  # prose is left out
    assert related_command(command, scripts, changed) == expected


@pytest.mark.parametrize(("command", "scripts", "changed"), [
    ("node --test test/", {}, ["src/a.js"]),  # no related-tests selection of its own
    ("npx jest && npm run lint", {}, ["src/a.js"]),  # a shell line: run as written
    ("npx vitest watch", {}, ["src/a.js"]),
    ("npx jest --watch", {}, ["src/a.js"]),
    ("npm test", {"test": "NODE_ENV=test jest"}, ["src/a.js"]),
    ("npm test", {"test": "jest && tsc"}, ["src/a.js"]),
    ("npm test", {}, ["src/a.js"]),
    ("npx jest", {}, ["src/a.js", "jest.config.yml"]),  # outside the module graph: all tests
    ("npx jest", {}, ["test/__snapshots__/a.test.js.snap"]),
    ("npx jest", {}, []),
    ("npx jest", {}, ["README.md"]),  # prose alone: nothing to relate
])
def test_otherwise_the_full_suite(command: str, scripts: dict[str, str],
                                  changed: list[str]) -> None:
    assert related_command(command, scripts, changed) is None


@pytest.mark.docker
def test_jest_runs_only_the_tests_a_change_reaches(client: docker.DockerClient,
                                                  image: BuiltImage, open_sandbox: Open,
                                                  tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "rel", {
        ".gitignore": "node_modules/\n",
        "package.json": manifest(name="rel", scripts={"test": "jest"},
                                 devDependencies={"jest": "29.7.0"}),
        "src/a.js": "exports.a = () => 1;\n", "src/b.js": "exports.b = () => 2;\n",
        "test/a.test.js": 'const { a } = require("../src/a");\ntest("a", () => '
                          "expect(a()).toBe(1));\n",
        "test/b.test.js": 'const { b } = require("../src/b");\ntest("b", () => '
                          "expect(b()).toBe(2));\n"})
    lock(client, image, repo, "npm install --package-lock-only --no-audit --no-fund")
    cfg = CFG.model_copy(update={"test_command": "npm test"})
    sandbox = open_sandbox(repo, cfg)
    sandbox.write_file("src/c.js", "exports.c = 1;\n")  # no test reaches it: the full suite
    unrelated = run_tests(sandbox, cfg, "affected")
    assert (unrelated.scope, unrelated.report.passed) == ("full", 2)
    sandbox.write_file("src/a.js", "exports.a = () => 3;\n")
    run = run_tests(sandbox, cfg, "affected")
    assert run.scope == "affected"
    assert "--findRelatedTests src/a.js src/c.js" in run.command
    assert (run.report.passed, [t.name for t in run.report.failing]) == (0, ["a"])
    full = run_tests(sandbox, cfg, "full")
    assert (full.report.passed, [t.name for t in full.report.failing]) == (1, ["a"])
    sandbox.write_file("data/table.csv", "a,1\n")  # read at run time, maybe: all the tests
    assert run_tests(sandbox, cfg, "affected").scope == "full"  # outside the module graph
