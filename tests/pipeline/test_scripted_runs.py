"""The pipeline end to end in the real sandbox, every stage played by the scripted vendor: the
ladders, the tests between Coder attempts, Debugger routing, review rounds, exhaust policies and
caps — and the user's repository unchanged after every run (checked by the ``run`` fixture)."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.config.catalog import packaged_catalog
from harness.vendors.errors import TransientVendorError
from harness.vendors.scripted import Reply, ScriptFn, register_script
from harness.vendors.types import ModelRequest, Usage
from tests.pipeline.conftest import BUGGY, FIXED, MANIFEST, Outcome, git, sandbox_section

Play = list[Reply]
MCP_SERVER = Path(__file__).with_name("mcp_symbols.py")
PLAN: Play = [Reply("", [("list_files", {"path": "src"})]),
              Reply("", [("submit_manifest", MANIFEST)])]
BAD_PLAN: Play = [Reply("", [("submit_manifest", {**MANIFEST, "sub_tickets": [
    {**MANIFEST["sub_tickets"][0], "depends_on": ["S9"]}]})])]  # type: ignore[dict-item]
APPROVE: Play = [Reply("", [("submit_review", {"verdict": "approve"})])]
CHANGES: Play = [Reply("", [("submit_review", {"verdict": "request_changes", "findings": [
    {"path": "src/slug.js", "line": 1, "message": "document slugify"}]})])]


def code(source: str) -> Play:
    return [Reply("", [("read_file", {"path": "src/slug.js"})]),
            Reply("", [("write_file", {"path": "src/slug.js", "content": source})]),
            Reply("", [("finish", {"summary": "changed slugify"})])]


def diagnose(owner: str, brief: str) -> Play:
    return [Reply("", [("run_command", {"command": "node --test test/"})]),
            Reply("", [("submit_diagnosis", {"owner": owner, "root_cause": "dashes kept",
                                             "brief": brief})])]


class Plays:
    """A stage's script: attempt k plays ``plays[k]`` turn by turn; every request is kept."""

    def __init__(self, *plays: Play) -> None:
        self.plays = plays
        self.attempt = -1
        self.requests: list[ModelRequest] = []

    def __call__(self, request: ModelRequest) -> Reply:
        self.requests.append(request)
        turn = sum(1 for m in request.messages if m.tool_results)
        if len(request.messages) == 1:
            self.attempt += 1
        play = self.plays[min(self.attempt, len(self.plays) - 1)]
        return play[min(turn, len(play) - 1)]

    def prompts(self) -> list[str]:
        return [r.messages[0].text for r in self.requests if len(r.messages) == 1]


def stages(scripts: dict[str, ScriptFn], **over: Any) -> str:
    """A stages file routing each scripted stage to its script (registered under a fresh name)."""
    cfg: dict[str, dict[str, Any]] = {
        "planner": {"model": "opus", "timeout": "30s", "retry_budget": 1},
        "coder": {"model": "sonnet", "timeout": "60s", "retry_budget": 2,
                  "on_retry": {"compute": "increased"}},
        "debugger": {"model": "sonnet", "timeout": "30s", "compute": "high",
                     "attaches_to": "any_stage", "can_route_to": "any_stage"},
        "reviewer": {"model": "gemini-flash", "timeout": "30s", "retry_budget": 1},
    }
    lines = []
    for role, base in cfg.items():
        if role not in scripts:
            continue
        name = f"{role}-{uuid.uuid4().hex[:8]}"
        register_script(name, scripts[role])
        stage = {**base, **over.get(role, {}), "vendor": "scripted",
                 "vendor_options": {"script": name}}
        lines.append(f"{role}: {json.dumps(stage)}")
    lines.append(f"token_cap: {over.get('token_cap', 500_000)}")
    return "\n".join(lines) + "\n" + sandbox_section()


@pytest.mark.docker
def test_happy_path(run: Callable[..., Outcome]) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(FIXED)),
                      "reviewer": Plays(APPROVE)}))
    assert out.result.status == "resolved", out.result.detail
    assert out.result.exit_code == 0
    assert out.outcomes() == ["accepted", "passed", "approved"]
    assert "replace(/^-+|-+$/g" in out.result.patch.read_text()
    run_dir = out.result.run_dir
    assert out.state["decomposition"] == {"sub_tickets": 1, "chain_depth": 1, "operations": 1,
                                          "order": ["S1"]}
    events = [json.loads(line)["event"] for line in (run_dir / "events.jsonl").open()]
    assert events.index("decomposition") < events.index("tests")
    assert events[-1] == "run_end"
    assert len(list((run_dir / "llm").iterdir())) == 2 + 3 + 1
    assert out.state["totals"]["tokens"] == sum(a["tokens"] for a in out.state["attempts"])
    assert out.state["totals"]["cost_usd"] > 0
    assert out.state["base_commit"]
    assert out.state["image"].startswith("sha256:")


@pytest.mark.docker
def test_coder_escalates_and_sees_the_failing_test(run: Callable[..., Outcome]) -> None:
    coder = Plays(code(BUGGY), code(BUGGY), code(FIXED))
    out = run(stages({"planner": Plays(PLAN), "coder": coder}))
    assert out.result.status == "resolved"
    assert out.outcomes("coder") == ["tests_failed", "tests_failed", "passed"]
    assert [a["tier"] for a in out.state["attempts"] if a["stage"] == "coder"] == [
        "medium", "high", "max"]
    first, _, third = coder.prompts()
    assert "Your previous attempt failed" not in first  # it names the target test, no output
    assert "Your previous attempt failed" in third
    feedback = third[third.index("## Your previous attempt failed"):]
    assert "trims dashes" in feedback  # the failing test's name, first in the feedback
    tests = sorted(p.name for p in (out.result.run_dir / "tests").iterdir())
    assert len(tests) == 3
    assert len(list((out.result.run_dir / "attempts").iterdir())) == 3


@pytest.mark.docker
def test_debugger_routes_to_the_planner(run: Callable[..., Outcome]) -> None:
    planner = Plays(PLAN, PLAN)
    coder = Plays(code(BUGGY), code(FIXED))
    out = run(stages({"planner": planner, "coder": coder,
                      "debugger": Plays(diagnose("planner", "plan a trim step"))},
                     coder={"retry_budget": 0}))
    assert out.result.status == "resolved"
    assert out.outcomes() == ["accepted", "tests_failed", "routed:planner", "accepted", "passed"]
    assert "plan a trim step" in planner.prompts()[1]
    assert "trims dashes" in coder_evidence(out)


def coder_evidence(out: Outcome) -> str:
    llm = sorted((out.result.run_dir / "llm").glob("*-debugger-*.json"))
    return json.loads(llm[0].read_text())["request"]["messages"][0]["text"]


@pytest.mark.docker
def test_debugger_routes_to_the_coder(run: Callable[..., Outcome]) -> None:
    coder = Plays(code(BUGGY), code(FIXED))
    out = run(stages({"planner": Plays(PLAN), "coder": coder,
                      "debugger": Plays(diagnose("coder", "strip dashes at both ends"))},
                     coder={"retry_budget": 0}))
    assert out.result.status == "resolved"
    assert out.outcomes() == ["accepted", "tests_failed", "routed:coder", "passed"]
    assert "strip dashes at both ends" in coder.prompts()[1]


@pytest.mark.docker
def test_reviewer_requests_changes_once(run: Callable[..., Outcome]) -> None:
    coder = Plays(code(FIXED), code("/** Slug of a title. */\n" + FIXED))
    out = run(stages({"planner": Plays(PLAN), "coder": coder,
                      "reviewer": Plays(CHANGES, APPROVE)}))
    assert out.result.status == "resolved"
    assert out.outcomes() == ["accepted", "passed", "request_changes", "passed", "approved"]
    assert "document slugify" in coder.prompts()[1]
    assert "/** Slug of a title. */" in out.result.patch.read_text()


@pytest.mark.docker
def test_an_invalid_manifest_is_replanned(run: Callable[..., Outcome]) -> None:
    planner = Plays(BAD_PLAN, PLAN)
    out = run(stages({"planner": planner, "coder": Plays(code(FIXED))}))
    assert out.result.status == "resolved"
    assert out.outcomes("planner") == ["invalid_manifest", "accepted"]
    assert "unknown sub-ticket `S9`" in planner.prompts()[1]


@pytest.mark.docker
def test_surface_to_human_writes_a_handoff(run: Callable[..., Outcome]) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY))},
                     coder={"retry_budget": 1, "on_exhaust": "surface_to_human"}))
    assert out.result.status == "needs_human"
    assert out.result.exit_code == 1
    handoff = (out.result.run_dir / "HANDOFF.md").read_text()
    for expected in ("T-1", "coder/S1/a2", "trims dashes", "harness reproduce", "+exports"):
        assert expected in handoff, expected


@pytest.mark.docker
def test_halt_when_the_budget_is_spent(run: Callable[..., Outcome]) -> None:
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(code(BUGGY))},
                     coder={"retry_budget": 1}))
    assert out.result.status == "halted"
    assert out.state["stopped_in"] == "coder"
    assert not (out.result.run_dir / "HANDOFF.md").exists()
    assert "slugify" in out.result.patch.read_text()  # the last attempt's work is kept


@pytest.mark.docker
def test_the_token_cap_stops_the_run_at_once(run: Callable[..., Outcome]) -> None:
    heavy = Reply("", [("read_file", {"path": "src/slug.js"})], usage=Usage(4000, 100))
    coder = Plays([heavy, *code(FIXED)])
    out = run(stages({"planner": Plays(PLAN), "coder": coder}, token_cap=3000))
    assert out.result.status == "token_cap_exceeded"
    assert len(coder.requests) == 1  # no call after the one that crossed the cap
    assert out.state["status"] == "token_cap_exceeded"
    stopped = out.state["attempts"][-1]  # the interrupted attempt's spend is on record
    assert (stopped["label"], stopped["outcome"]) == ("coder/S1/a1", "token_cap_exceeded")
    assert out.state["totals"]["tokens"] > 3000


@pytest.mark.docker
def test_cache_reads_count_against_the_cap_at_their_price_share(
        run: Callable[..., Outcome]) -> None:
    """Each Coder turn re-reads a 20k-token prefix from the cache: 20.6k tokens by count, far
    fewer charged at the catalog's prices (Sonnet's reads at 0.05 of input). A 20k cap holds
    spend, not how often a prefix is re-read."""
    price = packaged_catalog().models["claude-sonnet-5-5"].price
    reread = Usage(500, 100, cache_read_tokens=20_000)
    coder = Plays([replace(r, usage=reread) for r in code(FIXED)])
    out = run(stages({"planner": Plays(PLAN), "coder": coder}, token_cap=20_000,
                     coder={"model": "sonnet"}))
    assert out.result.status == "resolved", out.result.detail
    attempt = out.state["attempts"][-1]
    assert attempt["usage"]["cache_read_tokens"] == 3 * 20_000
    assert attempt["tokens"] == 3 * (500 + 100 + round(20_000 * price.cache_read / price.input))
    assert out.state["totals"]["tokens"] < 20_000


@pytest.mark.docker
def test_a_failed_calls_spend_counts_against_the_cap(run: Callable[..., Outcome]) -> None:
    overloaded = TransientVendorError("scripted", "overloaded after a long answer")
    overloaded.spent, overloaded.cost_usd = Usage(4000, 100), 0.02
    coder = Plays([Reply(error=overloaded)], code(FIXED))
    out = run(stages({"planner": Plays(PLAN), "coder": coder}, token_cap=3000))
    assert out.result.status == "token_cap_exceeded"
    assert len(coder.requests) == 1
    assert out.state["totals"]["cost_usd"] >= 0.02


@pytest.mark.docker
def test_a_timed_out_attempt_is_a_failed_attempt(run: Callable[..., Outcome]) -> None:
    slow = [Reply("", [("finish", {"summary": "late"})], delay=30)]
    out = run(stages({"planner": Plays(PLAN), "coder": Plays(slow, code(FIXED))},
                     coder={"timeout": "1s"}))
    assert out.result.status == "resolved"
    assert out.outcomes("coder") == ["timed_out", "passed"]
    assert out.state["attempts"][1]["duration_s"] < 3


def test_a_refused_config_makes_no_request(tmp_path: Any, repo: Any) -> None:
    calls: list[ModelRequest] = []
    register_script("counting", lambda r: calls.append(r) or Reply("x"))  # type: ignore[func-returns-value]
    config = tmp_path / "stages.yaml"
    config.write_text("planner: {vendor: scripted, model: opus, vendor_options: {script: "
                      "counting}}\ncoder: {vendor: scripted, model: sonnet, timeout: 10s}\n")
    ticket = tmp_path / "t.yaml"
    ticket.write_text("id: T-2\ntitle: x\n")
    result = CliRunner().invoke(main, ["run", str(ticket), "--repo", str(repo), "-c",
                                       str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert "stages.yaml:1:1: planner.timeout: no timeout" in result.output
    assert calls == []
    assert not (tmp_path / "runs").exists()


@pytest.mark.docker
def test_the_result_can_land_on_a_new_branch(tmp_path: Any, repo: Any, client: Any) -> None:
    from harness.runs.execute import RunRequest, execute  # noqa: PLC0415
    config = tmp_path / "stages.yaml"
    config.write_text(stages({"planner": Plays(PLAN), "coder": Plays(code(FIXED))}))
    ticket = tmp_path / "t.yaml"
    ticket.write_text("id: T-3\ntitle: trim\n")
    head, status = git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")
    result = execute(RunRequest(ticket, repo, config, tmp_path / "runs",
                                commit_branch="harness/T-3"), client=client)
    assert result.status == "resolved"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == status
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert "replace(/^-+|-+$/g" in git(repo, "show", "harness/T-3:src/slug.js")
    # "trims dashes" fails at the base, the ticket does not name it and the Planner declared
    # none: the run says what the target was and why
    events = [json.loads(ln) for ln in (result.run_dir / "events.jsonl").open()]
    (baseline,) = [e for e in events if e["event"] == "baseline"]
    assert baseline["failing"] == ["trims dashes"]
    target = json.loads((result.run_dir / "run.json").read_text())["target"]
    assert (target["tests"], target["source"]) == ([], "none")
    assert "the Planner declared none of the 1 test(s)" in target["why"]


@pytest.mark.parametrize("front", ["yaml", "markdown"])
def test_tickets_load_from_yaml_and_markdown(tmp_path: Any, front: str) -> None:
    from harness.pipeline.ticket import load_ticket  # noqa: PLC0415
    if front == "yaml":
        path = tmp_path / "t.yaml"
        path.write_text("id: A-1\ntitle: t\nbody: b\n")
    else:
        path = tmp_path / "t.md"
        path.write_text("---\nid: A-1\ntitle: t\n---\nb\n")
    ticket = load_ticket(path)
    assert (ticket.id, ticket.title, ticket.body) == ("A-1", "t", "b")


@pytest.mark.docker
def test_a_stage_calls_its_mcp_servers_tools(run: Callable[..., Outcome]) -> None:
    planner = Plays([Reply("", [("symbols__lookup_symbol", {"name": "slugify"})]),
                     *PLAN[1:]])
    server = {"name": "symbols", "command": [sys.executable, str(MCP_SERVER)]}
    out = run(stages({"planner": planner, "coder": Plays(code(FIXED))},
                     planner={"mcp_servers": [server]}))
    assert out.result.status == "resolved", out.result.detail
    first, second = planner.requests[:2]
    tools = {t.name: t for t in first.tools}
    assert "symbols__lookup_symbol" in tools
    assert tools["symbols__lookup_symbol"].input_schema["properties"]["name"]["type"] == "string"
    (result,) = second.messages[-1].tool_results
    assert result.content == "src/slug.js"
    assert not result.is_error


@pytest.mark.docker
def test_a_read_only_stage_that_writes_through_a_command_is_undone_and_fails(
        run: Callable[..., Outcome]) -> None:
    sneaky = [Reply("", [("run_command", {"command": "echo '// the debugger was here' >> "
                                                     "src/slug.js && touch src/scratch.js"})]),
              *diagnose("coder", "strip dashes at both ends")[1:]]
    coder = Plays(code(BUGGY), code(FIXED))
    out = run(stages({"planner": Plays(PLAN), "coder": coder, "debugger": Plays(sneaky)},
                     coder={"retry_budget": 0}))
    debugger = [a for a in out.state["attempts"] if a["stage"] == "debugger"]
    assert debugger
    assert "may not change files" in debugger[0]["detail"]
    assert not debugger[0]["outcome"].startswith("routed")
    events = (out.result.run_dir / "events.jsonl").read_text()
    assert "read_only_violation" in events
    assert "the debugger was here" not in out.result.patch.read_text()
    assert "scratch.js" not in out.result.patch.read_text()


TWO_STEPS = {"summary": "document, then fix", "sub_tickets": [
    {"id": "S1", "title": "document slugify", "files": ["README.md"],
     "operations": [{"op": "modify", "path": "README.md"}]},
    {"id": "S2", "title": "trim dashes in slugify", "files": ["src/slug.js"], "depends_on": ["S1"],
     "operations": [{"op": "modify", "path": "src/slug.js", "symbol": "slugify"}]}]}
DOCUMENT: Play = [Reply("", [("write_file", {"path": "README.md", "content": "# slugs\nslugify "
                                                                         "trims dashes\n"})]),
                  Reply("", [("finish", {"summary": "documented slugify"})])]


@pytest.mark.docker
def test_routing_back_to_the_coder_redoes_only_what_has_not_passed(
        run: Callable[..., Outcome]) -> None:
    coder = Plays(DOCUMENT, code(BUGGY), code(FIXED))
    out = run(stages({"planner": Plays([Reply("", [("submit_manifest", TWO_STEPS)])]),
                      "coder": coder,
                      "debugger": Plays(diagnose("coder", "strip dashes at both ends"))},
                     coder={"retry_budget": 0}))
    assert out.result.status == "resolved", out.result.detail
    labels = [(a["label"], a["outcome"]) for a in out.state["attempts"]]
    assert labels == [("planner/a1", "accepted"), ("coder/S1/a1", "passed"),
                      ("coder/S2/a1", "tests_failed"), ("debugger/a1", "routed:coder"),
                      ("coder/S2/r2/a1", "passed")]
    # S2's first attempt saw S1's work as a diff; its routed round saw its own and the brief
    assert "README.md | +1 -0" in coder.prompts()[1]
    assert "strip dashes at both ends" in coder.prompts()[2]
    assert "src/slug.js |" in coder.prompts()[2]


@pytest.mark.docker
def test_the_coder_checks_its_change_as_the_harness_will_judge_it(
        run: Callable[..., Outcome]) -> None:
    """The first turn says how the change is judged; run_tests answers with that verdict, so a
    model sees the failing target test before it finishes, and fixes it in the same attempt."""
    checked = [Reply("", [("write_file", {"path": "src/slug.js", "content": BUGGY})]),
               Reply("", [("run_tests", {})]),
               Reply("", [("write_file", {"path": "src/slug.js", "content": FIXED})]),
               Reply("", [("run_tests", {"scope": "full"})]),
               Reply("", [("finish", {"summary": "trimmed dashes"})])]
    coder = Plays(checked)
    out = run(stages({"planner": Plays(PLAN), "coder": coder}))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes() == ["accepted", "passed"]
    first = coder.prompts()[0]
    assert "## How your change is checked" in first
    assert "`node --test test/`" in first
    assert "these target tests must pass: trims dashes" in first
    said = [r.content for req in coder.requests for m in req.messages[-1:]
            for r in m.tool_results]
    assert any(s.startswith("FAILED") and "trims dashes" in s for s in said)
    assert any(s.startswith("PASSED (full run)") for s in said)
    assert "run_tests" in {t.name for t in coder.requests[0].tools}
