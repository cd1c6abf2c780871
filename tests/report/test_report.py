"""`harness report` on run directories made by real runs: the scripted vendor plays every stage
in the real sandbox, so run.json, events.jsonl, tests/ and final.diff are the pipeline's own.
Only the corrupt run.json is written by hand."""

from __future__ import annotations

import json
import os
import re
import textwrap
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from click.testing import CliRunner

from harness.budget.estimate import estimate
from harness.cli import main
from harness.report.estimate import run_estimate
from harness.report.make import make_report, resolve
from harness.report.markdown import run_markdown
from harness.report.model import link_base
from harness.runs.execute import RunRequest, RunResult, execute
from harness.sandbox.engine import connect
from harness.stages import load_plan
from harness.vendors.scripted import Reply
from tests.pipeline.conftest import BUGGY, FIXED, TEST, TICKET
from tests.pipeline.test_scripted_runs import APPROVE, PLAN, Plays, code, diagnose, stages
from tests.sandbox.conftest import make_repo

# 50 comment lines, each with a `<`: the diff is long (the terminal truncates it) and must be
# escaped in HTML.
LONG_FIX = FIXED + "".join(f"// rule {n}: a slug stays < 80 chars\n" for n in range(50))


@dataclass(frozen=True)
class Runs:
    dir: Path  # every run's directory is in here
    config: Path
    resolved: RunResult  # the Coder's first attempt fails its tests, the second passes
    routed: RunResult  # the Debugger routes the Coder's failure back to a fresh Coder round
    halted: RunResult  # the Coder's budget runs out

    def state(self, result: RunResult) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((result.run_dir / "run.json").read_text())
        return data


def _execute(base: Path, name: str, config: str, client: docker.DockerClient,
             repo: Path) -> RunResult:
    (base / f"{name}.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
    ticket = base / "ticket.yaml"
    ticket.write_text(TICKET, encoding="utf-8")
    return execute(RunRequest(ticket, repo, base / f"{name}.yaml", base / "runs"), client=client)


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    return connect()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo") / "repo", {
        "src/slug.js": 'exports.slugify = (t) => t.toLowerCase().replace(/ /g, "-");\n',
        "test/slug.test.js": TEST})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, client: docker.DockerClient,
         repo: Path) -> Runs:
    base = tmp_path_factory.mktemp("report")
    resolved = _execute(base, "resolved", stages({
        "planner": Plays(PLAN), "coder": Plays(code(BUGGY), code(LONG_FIX)),
        "reviewer": Plays(APPROVE)}), client, repo)
    routed = _execute(base, "routed", stages({
        "planner": Plays(PLAN), "coder": Plays(code(BUGGY), code(FIXED)),
        "debugger": Plays(diagnose("coder", "strip dashes at both ends"))},
        coder={"retry_budget": 0}), client, repo)
    halted = _execute(base, "halted", stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY))},
                                             coder={"retry_budget": 1}), client, repo)
    assert [r.status for r in (resolved, routed, halted)] == ["resolved", "resolved", "halted"]
    return Runs(base / "runs", base / "resolved.yaml", resolved, routed, halted)


def xhtml(path: Path) -> ET.Element:
    """The page parsed as XML: it must be well-formed, not merely accepted by a browser."""
    return ET.fromstring(path.read_text(encoding="utf-8").replace("<!DOCTYPE html>", "", 1))


def report_cli(*args: str) -> Any:
    return CliRunner().invoke(main, ["report", *args])


@pytest.mark.docker
def test_a_run_report_tells_the_runs_story(runs: Runs) -> None:
    state = runs.state(runs.resolved)
    written = make_report(resolve(str(runs.resolved.run_dir), runs.dir))
    data = written.data
    assert data["kind"] == "run"
    assert (data["status"], data["ticket_id"], data["base_commit"]) == (
        "resolved", "T-1", state["base_commit"])
    assert [(a["label"], a["outcome"]) for a in data["attempts"]] == [
        ("planner/a1", "accepted"), ("coder/S1/a1", "tests_failed"),
        ("coder/S1/a2", "passed"), ("reviewer/a1", "approved")]
    assert [a["tier"] for a in data["attempts"]] == [a["tier"] for a in state["attempts"]]
    started = [a["started_s"] for a in data["attempts"]]
    assert started == sorted(started)  # the timeline is in the order the attempts ran

    (suite_1, suite_2) = data["tests"]
    assert (suite_1["label"], suite_1["passed"], suite_1["failing"]) == (
        "coder/S1/a1", False, ["trims dashes"])
    assert (suite_2["passed"], suite_2["command"]) == (True, "node --test test/")
    assert suite_1["ended"] is not None
    assert suite_1["ended"].startswith("exit 1")
    assert (runs.resolved.run_dir / str(suite_1["output"])).is_file()


@pytest.mark.docker
def test_the_money_adds_up_to_the_run_and_is_set_against_the_estimate(runs: Runs) -> None:
    state = runs.state(runs.resolved)
    data = make_report(resolve(str(runs.resolved.run_dir), runs.dir)).data
    assert data["kind"] == "run"
    money, totals = data["money"], state["totals"]
    assert [s["stage"] for s in money["by_stage"]] == ["planner", "coder", "reviewer"]
    assert round(sum(s["cost_usd"] for s in money["by_stage"]), 2) == round(totals["cost_usd"], 2)
    assert sum(s["tokens"] for s in money["by_stage"]) == totals["tokens"]

    (failed,) = [a for a in state["attempts"] if a["outcome"] == "tests_failed"]
    assert money["failure"]["cost_usd"] == failed["cost_usd"]
    assert money["failure"]["attempts"] == 1
    (group,) = money["failure_by_stage"]
    assert (group["stage"], group["outcomes"], group["cost_usd"]) == (
        "coder", {"tests_failed": 1}, failed["cost_usd"])
    assert round(money["success"]["cost_usd"] + money["failure"]["cost_usd"], 6) == round(
        totals["cost_usd"], 6)

    expected = estimate(load_plan(runs.config))
    est = data["estimate"]
    assert est is not None
    assert est["source"].startswith("the run's recorded config")
    assert est["expected_usd"] == round(expected.total(expected.expected)[1], 6)
    assert est["worst_tokens"] == expected.total(expected.worst)[0]
    assert group["estimate_path"] == "coder retries"
    assert group["estimate_path_usd"] == round(
        sum(s.cost_usd for s in expected.by_path("coder retries")), 6)
    coder = money["by_stage"][1]
    assert coder["estimate_expected_usd"] == round(
        sum(s.cost_usd for s in expected.by_stage(expected.expected, "coder")), 6)


@pytest.mark.docker
def test_report_md_and_a_self_contained_html(runs: Runs) -> None:
    written = make_report(resolve(str(runs.resolved.run_dir), runs.dir))
    md_path, html_path = written.files
    assert (md_path.name, html_path.name) == ("report.md", "report.html")
    assert md_path.parent == runs.resolved.run_dir
    md = md_path.read_text()
    for expected in ("coder/S1/a1", "✗ tests_failed", "trims dashes", "Against the estimate",
                     "## Final diff", "rule 49: a slug stays < 80 chars"):
        assert expected in md, expected

    page = html_path.read_text()
    root = xhtml(html_path)
    assert not [e for e in root.iter() if e.tag in ("script", "link", "img")]
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere
    (svg,) = list(root.iter("svg"))
    bars = [r.get("data-stage") for r in svg.iter("rect") if r.get("class") == "bar"]
    assert bars == ["planner", "coder", "reviewer"]
    assert "+// rule 7: a slug stays &lt; 80 chars" in page
    assert "stays < 80" not in page
    (diff,) = [e for e in root.iter("pre") if e.get("class") == "diff"]
    assert "rule 49: a slug stays < 80 chars" in "".join(diff.itertext())


@pytest.mark.docker
def test_the_debuggers_routing_is_reported(runs: Runs) -> None:
    data = make_report(resolve(str(runs.routed.run_dir), runs.dir)).data
    assert data["kind"] == "run"
    assert data["routing"] == [{"failing": "coder", "owner": "coder",
                                "root_cause": "dashes kept"}]
    assert [a["label"] for a in data["attempts"]] == [
        "planner/a1", "coder/S1/a1", "debugger/a1", "coder/S1/r2/a1"]  # a fresh Coder round
    started = [a["started_s"] for a in data["attempts"]]
    assert None not in started
    assert started == sorted(started)
    groups = {g["stage"]: g["outcomes"] for g in data["money"]["failure_by_stage"]}
    assert groups == {"coder": {"tests_failed": 1}, "debugger": {"routed:coder": 1}}
    assert data["rambling"] == []
    md = (runs.routed.run_dir / "report.md").read_text()
    assert "| coder | coder | dashes kept |" in md
    assert "| ↪ routed:coder |" in md


@pytest.mark.docker
def test_the_terminal_report_truncates_the_diff(runs: Runs) -> None:
    result = report_cli(str(runs.resolved.run_dir))
    assert result.exit_code == 0, result.output
    for expected in ("T-1: slugify must trim dashes", "Timeline", "coder/S1/a2",
                     "Where the money went, by stage", "Against the estimate", "Tests",
                     "Final diff", "more lines: the full diff is in report.md",
                     f"wrote {runs.resolved.run_dir / 'report.html'}"):
        assert expected in result.output, expected
    assert "rule 10:" in result.output
    assert "rule 49:" not in result.output


@pytest.mark.docker
def test_a_run_id_is_looked_up_and_the_report_goes_to_out_dir(runs: Runs, tmp_path: Path
                                                              ) -> None:
    run_id = runs.halted.run_dir.name
    result = report_cli(run_id, "--runs-dir", str(runs.dir), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "halted" in result.output
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| stopped in | coder |" in md
    # links from the report reach the run's files from where the report was written
    (link,) = re.findall(r"\]\(<([^>]+002-coder-S1-a2-full\.txt)>\)", md)
    assert (tmp_path / "out" / link).is_file()


@pytest.mark.docker
def test_json_round_trips(runs: Runs) -> None:
    result = report_cli(str(runs.routed.run_dir), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    again = make_report(resolve(str(runs.routed.run_dir), runs.dir))
    assert data == again.data
    # the files are rendered from exactly this data
    base = link_base(runs.routed.run_dir, runs.routed.run_dir)
    assert run_markdown(data, base) == (runs.routed.run_dir / "report.md").read_text()


@pytest.mark.docker
def test_a_batch_report_from_results_jsonl(runs: Runs, tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    results = [runs.resolved, runs.routed, runs.halted]
    with (batch / "results.jsonl").open("w") as f:
        for r in results:
            state = runs.state(r)
            f.write(json.dumps({
                "ticket": f"{state['ticket']['id']}-{r.run_dir.name[-4:]}",
                "run_dir": os.path.relpath(r.run_dir, batch), "status": state["status"],
                "tokens": state["totals"]["tokens"], "cost_usd": state["totals"]["cost_usd"],
                "duration_s": 12.5}) + "\n")
    result = report_cli(str(batch))
    assert result.exit_code == 0, result.output
    assert "resolve rate: 67% (2 of 3)" in result.output

    data = make_report(resolve(str(batch), runs.dir)).data
    assert data["kind"] == "batch"
    assert [r["status"] for r in data["rows"]] == ["resolved", "resolved", "halted"]
    assert [r["attempts"] for r in data["rows"]] == [
        {"planner": 1, "coder": 2, "reviewer": 1}, {"planner": 1, "coder": 2, "debugger": 1},
        {"planner": 1, "coder": 2}]
    totals = data["totals"]
    assert (totals["runs"], totals["resolved"], totals["resolve_rate"]) == (3, 2, 0.6667)
    assert totals["tokens"] == sum(runs.state(r)["totals"]["tokens"] for r in results)
    assert totals["duration_s"] == 37.5

    root = xhtml(batch / "report.html")
    links = [a.get("href") for a in root.iter("a")]
    assert len(links) == 3
    for link in links:
        run_page = batch / str(link)
        assert run_page.is_file()
        xhtml(run_page)  # each run's own report, well-formed too
    md = (batch / "report.md").read_text()
    assert "| total | 2 of 3 resolved |" in md


@pytest.mark.docker
def test_a_batch_row_without_a_readable_run_is_a_note(runs: Runs, tmp_path: Path) -> None:
    state = runs.state(runs.halted)
    rows = [{"ticket": "T-9", "run_dir": None, "status": "error", "tokens": 0, "cost_usd": 0.0,
             "duration_s": 0.1},  # harness batch's row for a ticket refused before its run
            {"ticket": "T-1", "run_dir": os.path.relpath(runs.halted.run_dir, tmp_path),
             "status": "halted", "tokens": state["totals"]["tokens"],
             "cost_usd": state["totals"]["cost_usd"], "duration_s": 3.0}]
    (tmp_path / "results.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + '{"ticket": "T-7", "sta')  # torn by a kill
    written = make_report(resolve(str(tmp_path), runs.dir), tmp_path / "out")
    data = written.data
    assert data["kind"] == "batch"
    assert data["source"] == "results.jsonl (1 unreadable line skipped)"
    assert [(r["ticket"], r["status"], r["note"]) for r in data["rows"]] == [
        ("T-9", "error", "no run directory"), ("T-1", "halted", None)]
    assert data["totals"]["resolve_rate"] == 0.0
    assert written.run_reports == [tmp_path / "out" / runs.halted.run_dir.name / "report.html"]
    assert "T-9: no run directory" in (tmp_path / "out" / "report.md").read_text()
    xhtml(tmp_path / "out" / "report.html")


@pytest.mark.docker
def test_a_directory_of_runs_without_results_jsonl(runs: Runs) -> None:
    data = make_report(resolve(str(runs.dir), runs.dir)).data
    assert data["kind"] == "batch"
    assert data["source"].startswith("a scan of */run.json")
    assert sorted(r["status"] for r in data["rows"]) == ["halted", "resolved", "resolved"]
    assert all(r["report"] for r in data["rows"])


def test_an_estimate_that_cannot_be_made_is_said_so() -> None:
    found, note = run_estimate({"config_file": "/nowhere/stages.yaml"})
    assert found is None
    assert note == ("no estimate: run.json records no config; "
                    "config_file /nowhere/stages.yaml no longer exists")


@pytest.mark.docker
def test_an_edited_stages_file_does_not_change_the_estimate(runs: Runs, tmp_path: Path
                                                            ) -> None:
    state = runs.state(runs.resolved)
    edited = tmp_path / "stages.yaml"
    edited.write_text(runs.config.read_text().replace('"model": "sonnet"', '"model": "opus"'))
    recorded, _ = run_estimate(state)
    now, note = run_estimate({**state, "config_file": str(edited)})
    assert now == recorded
    assert note.endswith("has changed since this run; the estimate is for the config the run "
                         "ran")


@pytest.mark.parametrize(("content", "message"), [
    ('{"status": "resolved", "attempts": [', "run.json: not valid JSON (Expecting"),
    ("[1, 2]", "run.json: not a JSON object"),
    ('{"status": "resolved"}', "not a run record (no status or attempts)"),
    ('{"status": "resolved", "attempts": [{"label": "x"}]}', "not a run record as documented"),
])
def test_a_corrupt_run_json_is_one_line_and_exit_2(tmp_path: Path, content: str,
                                                   message: str) -> None:
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-1" / "run.json").write_text(content)
    result = CliRunner().invoke(main, ["report", str(tmp_path / "run-1")])
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_nothing_to_report_on_is_exit_2(tmp_path: Path) -> None:
    result = report_cli("no-such-run", "--runs-dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.output == (f"harness: no-such-run: no such run or batch directory, and no run "
                             f"`no-such-run` under {tmp_path}\n")
    result = report_cli(str(tmp_path))
    assert result.exit_code == 2
    assert "neither a run directory (no run.json) nor a batch" in result.output


@pytest.fixture
def running(tmp_path: Path, client: docker.DockerClient, repo: Path) -> Iterator[Path]:
    """A run whose Coder is still thinking: yields its directory while the run is live."""
    slow = [Reply("", [("read_file", {"path": "src/slug.js"})], delay=8), *code(FIXED)[1:]]
    config = stages({"planner": Plays(PLAN), "coder": Plays(slow)})
    done: list[RunResult] = []
    worker = threading.Thread(target=lambda: done.append(
        _execute(tmp_path, "running", config, client, repo)))
    worker.start()
    try:
        yield _wait_for_attempt(tmp_path / "runs")
    finally:
        worker.join(timeout=120)
    assert done
    assert done[0].status == "resolved"


def _wait_for_attempt(runs_dir: Path) -> Path:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for state_file in runs_dir.glob("*/run.json"):
            state = json.loads(state_file.read_text())
            if state["attempts"] and state["status"] == "running":
                return state_file.parent
        time.sleep(0.2)
    raise AssertionError("the run never got past its Planner")


@pytest.mark.docker
def test_a_running_run_is_reported_as_running(running: Path) -> None:
    data = make_report(resolve(str(running), running.parent)).data
    assert data["kind"] == "run"
    assert (data["status"], data["live"], data["wall_s"]) == ("running", True, None)
    assert [a["label"] for a in data["attempts"]] == ["planner/a1"]
    assert "**running** · run" in (running / "report.md").read_text()
    # A batch still going: its running ticket has no results.jsonl row yet, but is reported.
    (running.parent / "results.jsonl").write_text("")
    batch = make_report(resolve(str(running.parent), running.parent)).data
    assert batch["kind"] == "batch"
    assert batch["source"] == "results.jsonl, and 1 run still going"
    assert [r["status"] for r in batch["rows"]] == ["running"]
    assert batch["totals"]["running"] == 1
