"""``harness eval`` in the real sandbox on a small node repository: gold patches resolve, a
broken gold patch is ``invalid``, empty patches resolve nothing, and a scripted model under two
configs (differing in the Coder's model, so price) gives a table whose costs are the run
directories' — resumed without redoing a pair. The user's repository and the mirror are left
byte for byte as they were."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import docker
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.eval.instances import RepoSource, load_instances
from harness.eval.run import ALL_RESULTS, SUMMARY, TABLE, EvalSpec, run_eval
from harness.runs.batch import finished_rows
from harness.stages import load_plan
from tests.eval.conftest import instance, write_instances
from tests.eval.eval_scripts import stages
from tests.pipeline.conftest import BUGGY, tree_digest
from tests.sandbox.conftest import git


def summary(out: Path) -> dict[str, dict[str, object]]:
    data = json.loads((out / SUMMARY).read_text())
    return {c["label"]: c for c in data["configs"]}


@pytest.mark.docker
def test_gold_patches_resolve_and_a_broken_one_is_invalid(tmp_path: Path,
                                                          slug_repo: Path) -> None:
    mirrors = tmp_path / "mirrors"
    subprocess.run(["git", "clone", "-q", "--bare", str(slug_repo),
                    str(mirrors / "acme+slug" / "repo")], check=True)
    path = write_instances(tmp_path / "i.jsonl", [
        instance(slug_repo, tmp_path, "E-1"),
        instance(slug_repo, tmp_path, "E-BAD", gold=BUGGY + "// not the fix\n")])
    before = tree_digest(mirrors)
    out = tmp_path / "out"
    got = CliRunner().invoke(main, ["eval", str(path), "--gold", "--repos", str(mirrors),
                                    "--runs-dir", str(out)])
    assert got.exit_code == 1, got.output  # one instance is invalid
    rows = finished_rows(out / "gold")
    assert rows["E-1"]["status"] == "valid"
    assert rows["E-1"]["resolved"] is True
    assert rows["E-1"]["grade"]["tests"] == {"trims dashes": "passed", "joins words": "passed"}
    assert rows["E-BAD"]["status"] == "invalid"
    assert rows["E-BAD"]["grade"]["tests"]["trims dashes"] == "failed"
    assert summary(out)["gold"]["invalid"] == 1
    assert "1/2 (50.0%) (1 invalid)" in (out / TABLE).read_text()
    assert tree_digest(mirrors) == before, "the mirror changed"
    assert "trims dashes" in (out / "gold" / "grades" / "E-BAD.txt").read_text()


@pytest.mark.docker
def test_empty_patches_resolve_nothing_but_an_instance_without_tests(
        tmp_path: Path, slug_repo: Path) -> None:
    path = write_instances(tmp_path / "i.jsonl", [
        instance(slug_repo, tmp_path, "E-1"),
        instance(slug_repo, tmp_path, "E-0", FAIL_TO_PASS=[], PASS_TO_PASS=[])])
    before = tree_digest(slug_repo)
    out = tmp_path / "out"
    got = CliRunner().invoke(main, ["eval", str(path), "--empty", "--repo", str(slug_repo),
                                    "--runs-dir", str(out)])
    assert got.exit_code == 1, got.output
    rows = finished_rows(out / "empty")
    assert rows["E-1"]["resolved"] is False
    assert rows["E-1"]["grade"]["tests"]["trims dashes"] == "failed"
    assert rows["E-0"]["resolved"] is True  # nothing to fail
    assert tree_digest(slug_repo) == before, "the user's repository changed"
    assert git(slug_repo, "worktree", "list").count("\n") == 1


@pytest.mark.docker
def test_two_configs_side_by_side_costs_match_the_run_directories(
        tmp_path: Path, slug_repo: Path, client: docker.DockerClient) -> None:
    path = write_instances(tmp_path / "i.jsonl", [instance(slug_repo, tmp_path, f"E-{n}")
                                                  for n in (1, 2)])
    configs = []
    for name, model in (("sonnet", "sonnet"), ("opus", "opus")):
        configs.append(tmp_path / f"{name}.yaml")
        configs[-1].write_text(stages(model))
    before = tree_digest(slug_repo)
    out = tmp_path / "out"
    spec = EvalSpec(load_instances(path), out,
                    RepoSource(repos=None, repo=slug_repo, scratch=out / ".repos"),
                    load_plan(configs[0]).config.sandbox, tmp_path, configs, workers=2)
    result = run_eval(spec, client)
    assert tree_digest(slug_repo) == before, "the user's repository changed"
    totals: dict[str, float] = {}
    for label in ("sonnet", "opus"):
        rows = finished_rows(out / label)
        assert {t: r["resolved"] for t, r in rows.items()} == {"E-1": True, "E-2": True}
        runs = [json.loads((out / label / r["run_dir"] / "run.json").read_text())
                for r in rows.values()]
        totals[label] = sum(float(s["totals"]["cost_usd"]) for s in runs)
        assert summary(out)[label]["cost_usd"] == pytest.approx(totals[label], abs=1e-9)
        assert summary(out)[label]["stage_tokens"]["coder"] > 0
        predictions = (out / label / "predictions.jsonl").read_text().splitlines()
        assert [json.loads(p)["instance_id"] for p in predictions] == ["E-1", "E-2"]
    assert totals["opus"] != totals["sonnet"]
    table = (out / TABLE).read_text()
    for label in ("sonnet", "opus"):
        assert f"${totals[label]:.6f}" in table
    diff = (totals["opus"] - totals["sonnet"]) / 2
    assert f"{'+' if diff >= 0 else '-'}${abs(diff):.6f}" in table
    (comparison,) = result.comparisons
    assert comparison.cost.mean == pytest.approx(diff, abs=1e-9)
    assert comparison.resolved.mean == 0.0
    assert len((out / ALL_RESULTS).read_text().splitlines()) == 4

    again = run_eval(spec, client)  # resumed: every pair has its row
    assert again.skipped == 4
    assert len((out / "sonnet" / "results.jsonl").read_text().splitlines()) == 2
