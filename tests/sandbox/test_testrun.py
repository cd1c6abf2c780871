"""Tests run inside the container: affected tests for a change, the full suite, parsed results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.config.schema import SandboxConfig
from harness.sandbox.base import Sandbox
from harness.sandbox.testrun import NoTestCommandError, affected_command, run_tests
from tests.sandbox.conftest import CFG, make_repo

pytestmark = pytest.mark.docker  # every test here needs the engine

Open = Callable[..., Sandbox]


def package(name: str, value: int) -> dict[str, str]:
    return {
        f"packages/{name}/package.json": json.dumps({"name": name, "version": "1.0.0"}),
        f"packages/{name}/src/{name}.js": f"exports.value = () => {value};\n",
        f"packages/{name}/test/{name}.test.js": (
            'const test = require("node:test");\nconst assert = require("node:assert");\n'
            f'const {{value}} = require("../src/{name}");\n'
            f'test("{name} value", () => assert.strictEqual(value(), {value}));\n'),
    }


@pytest.fixture
def mono(tmp_path: Path) -> Path:
    root = {"package.json": json.dumps({"name": "mono", "private": True,
                                        "workspaces": ["packages/*"]})}
    return make_repo(tmp_path / "mono", {**root, **package("alpha", 1), **package("beta", 2)})


@pytest.fixture
def cfg() -> SandboxConfig:
    return CFG.model_copy(update={"test_command": "node --test",
                                  "affected_test_command": "cd {changed_packages} && node --test"})


def test_full_suite_passes_and_is_parsed(open_sandbox: Open, mono: Path,
                                         cfg: SandboxConfig) -> None:
    run = run_tests(open_sandbox(mono, cfg), cfg)
    assert run.passed
    assert (run.scope, run.report.passed, run.report.failed) == ("full", 2, 0)


def test_affected_runs_only_the_changed_package(open_sandbox: Open, mono: Path,
                                               cfg: SandboxConfig) -> None:
    sandbox = open_sandbox(mono, cfg)
    sandbox.edit_file("packages/beta/src/beta.js", "=> 2", "=> 3")
    affected = run_tests(sandbox, cfg, "affected")
    assert affected.command == "cd packages/beta && node --test"
    assert (affected.report.passed, affected.report.failed) == (0, 1)
    assert [f.name for f in affected.report.failing] == ["beta value"]
    feedback = affected.feedback()
    assert feedback.startswith("$ cd packages/beta && node --test\nexit 1")
    assert feedback.index("beta value") < feedback.index("Output (tail)")
    full = run_tests(sandbox, cfg, "full")
    assert (full.scope, full.report.passed, full.report.failed) == ("full", 1, 1)


def test_affected_without_changes_runs_the_full_suite(open_sandbox: Open, mono: Path,
                                                     cfg: SandboxConfig) -> None:
    assert run_tests(open_sandbox(mono, cfg), cfg, "affected").scope == "full"


def test_changed_files_are_quoted(open_sandbox: Open, mono: Path, cfg: SandboxConfig) -> None:
    sandbox = open_sandbox(mono, cfg)
    sandbox.write_file("packages/alpha/src/it's new.js", "1;\n")
    assert affected_command("lint {changed_files}", sandbox, sandbox.changed_files()) == \
        "lint 'packages/alpha/src/it'\"'\"'s new.js'"


def test_no_test_command_is_a_clear_error(open_sandbox: Open, mono: Path) -> None:
    with pytest.raises(NoTestCommandError, match=r"sandbox\.test_command is not set"):
        run_tests(open_sandbox(mono), CFG)
