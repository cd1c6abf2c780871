"""``--commit-branch`` end to end in the real sandbox: a result file over the configured cap is
refused clearly: no branch, the result kept in final.diff, the user's repository unchanged (the
``run`` fixture compares every byte)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.pipeline.conftest import FIXED, Outcome
from tests.pipeline.test_scripted_runs import PLAN, Plays, Reply, stages

BIG = 2 * (1 << 20) + 1  # bytes: over a 1 MiB cap


def _code_with(path: str, size: int) -> list[Reply]:
    make = f"mkdir -p $(dirname {path}) && head -c {size} /dev/zero | tr '\\0' x > {path}"
    return [Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})]),
            Reply("", [("run_command", {"command": make})]),
            Reply("", [("finish", {"summary": "fixed, and wrote a file"})])]


@pytest.mark.docker
def test_a_result_file_over_the_cap_is_refused_and_kept(run: Callable[..., Outcome],
                                                       repo: Path) -> None:
    config = stages({"planner": Plays(PLAN),
                     "coder": Plays(_code_with("assets/huge.txt", BIG))})
    out = run(config + "  commit_branch_max_file_mb: 1\n", commit_branch="harness/T-1")
    assert out.result.status == "error"
    assert out.result.exit_code == 1
    detail = " ".join(out.result.detail.split())
    for part in ("resolved, but", "assets/huge.txt", f"{BIG:,} bytes",
                 "sandbox.commit_branch_max_file_mb", "was not created", "final.diff"):
        assert part in detail, detail
    assert out.state["status"] == "error"
    assert out.state.get("branch") is None
    patch = out.result.patch.read_text()
    assert "replace(/^-+|-+$/g" in patch
    assert "assets/huge.txt" in patch
    branches = subprocess.run(["git", "-C", str(repo), "branch", "--list", "harness/*"],
                              capture_output=True, text=True, check=True).stdout
    assert branches == ""

