"""``harness batch --engine ray`` on a real two-node Ray cluster (tests/runs/ray_cluster.py: a
head with 1 slot and a worker node with 2, separate processes on this machine) with scripted
stages: tickets spread over both nodes within their slots, the results match a local batch's
byte for byte, resume and batch caps behave as locally, key variables reach the tasks and no
file of Ray's, and killing the worker node mid-batch loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import pytest

from harness.calibration.history_db import HistoryDB
from harness.calibration.project import history_file, project_id
from harness.runs.batch import finished_rows
from harness.sandbox.docker_sandbox import LABEL_RUN_DIR
from harness.scale.bundle import node_clone, pack_bundle
from harness.stages import load_plan
from tests.runs.ray_cluster import HARNESS, ROOT, Cluster, node_env, two_node_cluster
from tests.runs.ray_scripts import KEY_ENV, STAGES
from tests.sandbox.conftest import git

pytestmark = pytest.mark.docker  # every test here needs the engine

SECRET = "s3cr3t-ray-key-0f9e"
HEAD_SLOTS, WORKER_SLOTS = 1, 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with two_node_cluster(HEAD_SLOTS, WORKER_SLOTS) as started:
        yield started


def start_batch(tmp_path: Path, repo: Path, titles: list[str], args: list[str],
                runs: str = "runs") -> subprocess.Popen[str]:
    """`harness batch` of tickets R-1... with these titles, the key variable set."""
    config = tmp_path / "stages.yaml"
    config.write_text(STAGES)
    tickets = tmp_path / f"{runs}.jsonl"
    tickets.write_text("".join(json.dumps({"id": f"R-{n}", "title": title,
                                           "fail_to_pass": ["trims dashes"]}) + "\n"
                               for n, title in enumerate(titles, 1)))
    return subprocess.Popen(
        [*HARNESS, "batch", str(tickets), "--repo", str(repo), "-c", str(config),
         "--runs-dir", str(tmp_path / runs), *args],
        cwd=ROOT, env={**node_env(), KEY_ENV: SECRET, "HARNESS_HOME": str(tmp_path / "home")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def history_count(home: Path, repo: Path) -> int:
    project = project_id(repo)
    return HistoryDB(history_file(home / "history", project), project).count()


def batch(tmp_path: Path, repo: Path, runs: str, titles: list[str], *args: str
          ) -> tuple[int, str]:
    proc = start_batch(tmp_path, repo, titles, list(args), runs)
    out, _ = proc.communicate(timeout=600)
    return proc.returncode, out


def ray_args(cluster: Cluster) -> list[str]:
    return ["--engine", "ray", "--ray-address", cluster.address]


def run_json(runs: Path, row: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((runs / row["run_dir"] / "run.json").read_text())
    return data


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    level = peak = 0
    for _, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def test_ray_is_imported_only_by_the_ray_engine_and_worker() -> None:
    code = ("import sys; from harness.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "import harness.runs.batch, harness.cli.batch_cmds, harness.cli.worker_cmds\n"
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)


def test_a_node_without_docker_refuses_to_join(tmp_path: Path) -> None:
    proc = subprocess.run([*HARNESS, "worker", "start", "--slots", "1", "--head"], cwd=ROOT,
                          env={**node_env(), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "this machine cannot run tickets, so it does not join the cluster" in proc.stderr
    assert "Ray runtime started" not in proc.stdout + proc.stderr


def test_only_the_key_variables_the_stages_name_reach_the_tasks(tmp_path: Path) -> None:
    from harness.scale.engine import secret_env  # noqa: PLC0415 (imports ray)
    (tmp_path / "stages.yaml").write_text(STAGES)
    plan = load_plan(tmp_path / "stages.yaml")
    environ = {KEY_ENV: SECRET, "AWS_SECRET_ACCESS_KEY": "x", "HOME": "/root"}
    assert secret_env(plan, environ) == {KEY_ENV: SECRET}


def test_the_bundle_carries_the_base_commit_and_is_unpacked_once_per_node(
        tmp_path: Path, repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    commit = git(repo, "rev-parse", "HEAD~1").strip()
    fetched: list[int] = []

    def fetch() -> bytes:
        fetched.append(1)
        return pack_bundle(repo, commit)

    clone = node_clone(tmp_path / "work", commit, fetch)
    assert node_clone(tmp_path / "work", commit, fetch) == clone
    assert fetched == [1]
    assert git(clone, "rev-parse", "HEAD").strip() == commit
    assert git(clone, "show", "HEAD:src/slug.js") == git(repo, "show", f"{commit}:src/slug.js")
    assert git(clone, "rev-list", "--count", "HEAD").strip() == "1"  # no history shipped


def test_a_batch_spreads_over_both_nodes_and_matches_a_local_batch(
        cluster: Cluster, tmp_path: Path, repo: Path) -> None:
    titles = [f"trim dashes ({n})" for n in range(1, 7)]
    code, local_out = batch(tmp_path, repo, "local", titles, "--workers", "2")
    assert code == 1, local_out
    (tmp_path / "home").rename(tmp_path / "home-local")
    code, out = batch(tmp_path, repo, "ray", titles, *ray_args(cluster))
    assert code == 1, out  # the odd tickets do not resolve
    assert history_count(tmp_path / "home", repo) == history_count(
        tmp_path / "home-local", repo) == 6  # the runs joined the project's history
    assert "resolved 3/6 (50%)" in out, out
    local, ray_rows = finished_rows(tmp_path / "local"), finished_rows(tmp_path / "ray")
    assert {t: r["status"] for t, r in ray_rows.items()} == {
        t: r["status"] for t, r in local.items()}
    for ticket, row in ray_rows.items():
        assert ((tmp_path / "ray" / row["run_dir"] / "final.diff").read_bytes()
                == (tmp_path / "local" / local[ticket]["run_dir"] / "final.diff").read_bytes())
    assert ((tmp_path / "ray" / "predictions.jsonl").read_text()
            == (tmp_path / "local" / "predictions.jsonl").read_text())
    by_node: dict[str, list[tuple[datetime, datetime]]] = {}
    for row in ray_rows.values():
        state = run_json(tmp_path / "ray", row)
        span = (datetime.fromisoformat(state["started_at"]),
                datetime.fromisoformat(state["ended_at"]))
        by_node.setdefault(row["node"], []).append(span)
    assert set(by_node) == {cluster.head.id, cluster.worker.id}
    assert most_at_once(by_node[cluster.head.id]) <= HEAD_SLOTS
    assert most_at_once(by_node[cluster.worker.id]) <= WORKER_SLOTS
    for row in ray_rows.values():  # the runs are the driver's now (`harness reproduce`)
        state = run_json(tmp_path / "ray", row)
        assert state["repo"] == str(repo.resolve())
        assert state["run_dir"] == str((tmp_path / "ray" / row["run_dir"]).resolve())
    run_dirs = [p for p in (tmp_path / "ray").iterdir() if p.is_dir()]
    assert sorted(p.name for p in run_dirs) == sorted(r["run_dir"] for r in ray_rows.values())
    # The key reached the tasks (else no ticket resolves) but no file of the nodes.
    found = subprocess.run(["grep", "-rl", SECRET, str(cluster.head.root),
                            str(cluster.worker.root)], capture_output=True, text=True, check=False)
    assert found.stdout == ""
    # Each node unpacked the one base commit once; no scratch run is left on a node.
    commit = git(repo, "rev-parse", "HEAD").strip()
    for node in (cluster.head, cluster.worker):
        assert [p.name for p in (node.work / "repos").iterdir() if p.is_dir()] == [commit]
        assert list((node.work / "runs").iterdir()) == []
    code, out = batch(tmp_path, repo, "ray", titles, *ray_args(cluster))
    assert "skipped (already done) 6" in out, out
    assert len((tmp_path / "ray" / "results.jsonl").read_text().splitlines()) == 6


def test_a_batch_cost_cap_holds_across_the_cluster(
        cluster: Cluster, tmp_path: Path, repo: Path) -> None:
    titles = [f"trim dashes ({n})" for n in range(1, 7)]
    code, out = batch(tmp_path, repo, "runs", titles, *ray_args(cluster),
                      "--cost-cap-usd", "0.000001")
    assert code == 1
    rows = finished_rows(tmp_path / "runs")
    assert 1 <= len(rows) <= HEAD_SLOTS + WORKER_SLOTS, out  # at most the first wave starts
    assert "batch cap reached: not started:" in out, out


def test_a_killed_driver_resumes_without_redoing_finished_tickets(
        cluster: Cluster, tmp_path: Path, repo: Path) -> None:
    titles = ["trim dashes (1)", "slow trim (2)", "slow trim (3)", "trim dashes (4)"]
    runs = tmp_path / "runs"
    proc = start_batch(tmp_path, repo, titles, ray_args(cluster))
    while not _running_on(runs, Path("/")):
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.2)
    proc.kill()  # SIGKILL: Ray ends the batch's tasks when their driver is gone
    proc.communicate()
    first = finished_rows(runs)
    _, out = batch(tmp_path, repo, "runs", titles, *ray_args(cluster))
    rows = finished_rows(runs)
    assert set(rows) == {f"R-{n}" for n in range(1, 5)}, out
    assert all(rows[t] == r for t, r in first.items())
    assert f"skipped (already done) {len(first)}" in out
    assert len((runs / "results.jsonl").read_text().splitlines()) == 4
    statuses = [json.loads((p / "run.json").read_text())["status"]
                for p in runs.iterdir() if p.is_dir()]
    assert "running" not in statuses
    assert statuses.count("interrupted") == len(statuses) - 4 >= 1


def test_killing_the_worker_node_mid_batch_loses_nothing(
        cluster: Cluster, tmp_path: Path, repo: Path, client: docker.DockerClient) -> None:
    """Last in the module: the cluster has no worker node afterwards."""
    titles = [f"slow trim ({n})" for n in range(1, 5)]
    runs = tmp_path / "runs"
    proc = start_batch(tmp_path, repo, titles, ray_args(cluster))
    killed = runs_on(runs, cluster.worker.work, proc)
    assert killed
    cluster.worker.kill()
    out, _ = proc.communicate(timeout=600)
    rows = finished_rows(runs)
    assert set(rows) == {f"R-{n}" for n in range(1, 5)}, out
    assert len((runs / "results.jsonl").read_text().splitlines()) == 4
    assert {t: r["status"] for t, r in rows.items()} == {
        "R-1": "halted", "R-2": "resolved", "R-3": "halted", "R-4": "resolved"}
    for run_id, ticket in killed.items():
        assert json.loads((runs / run_id / "run.json").read_text())["status"] == "interrupted"
        assert rows[ticket]["run_dir"] != run_id
        assert rows[ticket]["node"] == cluster.head.id  # the rerun finished on the head
    statuses = [json.loads((p / "run.json").read_text())["status"]
                for p in runs.iterdir() if p.is_dir()]
    assert "running" not in statuses
    assert len(statuses) == 4 + len(killed)
    left = [c for c in client.containers.list(all=True, filters={"label": LABEL_RUN_DIR})
            if str(cluster.worker.work) in (c.labels or {}).get(LABEL_RUN_DIR, "")]
    assert left == []  # the head's next ticket collected the dead node's containers


def runs_on(runs: Path, work: Path, proc: subprocess.Popen[str]) -> dict[str, str]:
    """Wait until runs are in flight on the node whose work dir is ``work`` (the driver's
    placeholders name the node's run directory); their run ids -> tickets."""
    deadline = time.monotonic() + 180
    while not _running_on(runs, work):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no run started on the worker node"
        time.sleep(0.2)
    time.sleep(1.5)  # the node's other slot starts after the stagger; the coder thinks 6 s
    return _running_on(runs, work)


def _running_on(runs: Path, work: Path) -> dict[str, str]:
    found = {}
    for path in runs.glob("*/run.json") if runs.is_dir() else []:
        state = json.loads(path.read_text())
        if state.get("status") == "running" and str(work) in state.get("run_dir", ""):
            found[path.parent.name] = state["ticket"]["id"]
    return found
