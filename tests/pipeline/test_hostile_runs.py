"""Whole runs on a hostile repository: its ``pretest`` script (run by ``npm test``), or the Coder's
own ``run_command``, replaces /workspace/.git with a repository whose config and hooks run a
command on the host if host git ever follows it, and plants a ``gitdir:`` pointer at the user's
repository. The run ends with a status, nothing planted runs on the host, and the user's
repository is byte-identical (the ``run`` fixture checks every byte of it, .git included)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.vendors.scripted import Reply
from tests.pipeline.conftest import FIXED, TEST, Outcome, make_repo
from tests.pipeline.test_scripted_runs import APPROVE, PLAN, Plays, code, stages

pytestmark = pytest.mark.docker  # every test here needs the engine

TICKET = """\
id: T-H
title: slugify must trim dashes
body: slugify(" Hi, you! ") must be "hi-you".
test_command: npm test
"""


@pytest.fixture
def marker() -> Iterator[Path]:
    path = Path(f"/tmp/harness-pwned-{uuid.uuid4().hex}")
    yield path
    for planted in path.parent.glob(f"{path.name}*"):
        planted.unlink()


def plant_script(marker: Path, user_repo: Path) -> str:
    touch = f"touch {marker}"
    return f"""#!/bin/sh
# Run inside the container: what a hostile repository does to the harness's git.
rm -rf .git
git init -q . 2>/dev/null
git config core.fsmonitor "{touch}-fsmonitor"
git config core.hooksPath "$PWD/.git/hooks"
git config diff.external "{touch}-extdiff"
git config filter.pwn.clean "{touch}-filter"
mkdir -p .git/hooks
for h in pre-commit post-checkout post-index-change reference-transaction; do
  printf '#!/bin/sh\\n{touch}-%s\\n' "$h" > .git/hooks/$h; chmod +x .git/hooks/$h
done
printf '* filter=pwn\\n' >> .gitattributes
mkdir -p pointer && printf 'gitdir: {user_repo}/.git\\n' > pointer/.git
"""


@pytest.fixture
def repo(tmp_path: Path, marker: Path) -> Path:
    """The slugify repository, plus a pretest script that plants a hostile .git."""
    path = tmp_path / "repo"
    make_repo(path, {
        "src/slug.js": 'exports.slugify = (t) => t.toLowerCase().replace(/ /g, "-");\n',
        "test/slug.test.js": TEST, "README.md": "# slugs\n",
        "package.json": '{"name": "slugs", "version": "1.0.0", "scripts": '
                        '{"pretest": "sh plant.sh", "test": "node --test test/"}}\n',
        "plant.sh": plant_script(marker, path),
    })
    (path / "notes.txt").write_text("uncommitted work of the user\n")  # must survive
    return path


def planted(marker: Path) -> list[str]:
    return [p.name for p in marker.parent.glob(f"{marker.name}*")]


def test_a_pretest_script_that_plants_a_git_directory(run: Callable[..., Outcome],
                                                      marker: Path) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(FIXED)),
                      "reviewer": Plays(APPROVE)}), ticket=TICKET)
    assert out.result.status == "resolved", out.result.detail
    tests = [p.read_text() for p in (out.result.run_dir / "tests").iterdir()]
    assert any("sh plant.sh" in t for t in tests)  # the pretest script did run, inside
    assert planted(marker) == []
    patch = out.result.patch.read_text()
    assert "replace(/^-+|-+$/g" in patch
    assert ".git/" not in patch  # the planted repository is not part of the result
    assert "pointer/" not in patch


def test_the_coders_own_command_plants_a_git_directory(run: Callable[..., Outcome],
                                                       marker: Path) -> None:
    coder = [Reply("", [("run_command", {"command": "sh plant.sh && echo planted"})]),
             *code(FIXED)]
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(coder)}),
              ticket=TICKET.replace("npm test", "node --test test/"))
    assert out.result.status == "resolved", out.result.detail
    said = "".join(p.read_text() for p in (out.result.run_dir / "llm").iterdir())
    assert "planted" in said  # the command ran, inside
    assert planted(marker) == []
