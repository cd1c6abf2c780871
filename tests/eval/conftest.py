"""A small node repository and SWE-bench-style instances over it: the base has one test
("joins words"); each instance's hidden test_patch adds "trims dashes"; its gold patch makes
slugify trim (``E-BAD``'s gold patch does not)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.pipeline.conftest import BUGGY, FIXED, client
from tests.sandbox.conftest import git, make_repo

__all__ = ["client"]

BASE_TEST = ('const { test } = require("node:test");\n'
             'const assert = require("node:assert");\n'
             'const { slugify } = require("../src/slug");\n'
             'test("joins words", () => assert.strictEqual(slugify("A b"), "a-b"));\n')
HIDDEN_TEST = ('const { test } = require("node:test");\n'
               'const assert = require("node:assert");\n'
               'const { slugify } = require("../src/slug");\n'
               'test("trims dashes", () => assert.strictEqual(slugify(" Hi, you! "), "hi-you"));\n')
STATEMENT = 'slugify must trim dashes\n\nslugify(" Hi, you! ") must be "hi-you".'


@pytest.fixture
def slug_repo(tmp_path: Path) -> Path:
    path = make_repo(tmp_path / "repo", {"src/slug.js": BUGGY, "test/slug.test.js": BASE_TEST,
                                         "README.md": "# slugs\n"})
    (path / "notes.txt").write_text("uncommitted work of the user\n")  # must survive
    return path


def _patch(repo: Path, scratch: Path, files: dict[str, str]) -> str:
    """The diff that writes ``files`` on the repository's HEAD (made in a scratch clone)."""
    subprocess.run(["git", "clone", "-q", str(repo), str(scratch)], check=True)
    for rel, text in files.items():
        (scratch / rel).parent.mkdir(parents=True, exist_ok=True)
        (scratch / rel).write_text(text)
    git(scratch, "add", "-A")
    return git(scratch, "diff", "--cached", "--binary")


def instance(repo: Path, tmp: Path, iid: str, gold: str = FIXED, **extra: object
             ) -> dict[str, object]:
    return {"instance_id": iid, "repo": "acme/slug", "base_commit": git(repo, "rev-parse",
                                                                         "HEAD").strip(),
            "problem_statement": STATEMENT,
            "test_patch": _patch(repo, tmp / f"{iid}-t", {"test/trim.test.js": HIDDEN_TEST}),
            "patch": _patch(repo, tmp / f"{iid}-g", {"src/slug.js": gold}),
            "FAIL_TO_PASS": json.dumps(["trims dashes"]),
            "PASS_TO_PASS": json.dumps(["joins words"]),
            "test_command": "node --test test/", **extra}


def write_instances(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
