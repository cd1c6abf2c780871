"""The repository map in a real run, checked on the wire: the Planner's first turn opens with
the ticket and the map under a cache breakpoint, the same bytes on every attempt (so a retry
reads them from the cache), and the Planner and the Coder can call ``repo_map``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator

import pytest

from harness.fakes.anthropic_server import AnthropicHandler, conversation
from harness.fakes.loopback import LoopbackServer, Recorded
from tests.pipeline.conftest import FIXED, MANIFEST, Outcome, sandbox_section

pytestmark = pytest.mark.docker  # every test here needs the engine

KEY = "sk-ant-api03-" + "maps" * 10
EPHEMERAL = {"type": "ephemeral"}
BAD_MANIFEST = {"summary": "fix", "sub_tickets": [{
    "id": "S1", "title": "trim", "operations": [{"op": "modify", "path": "src/missing.js"}]}]}


@pytest.fixture
def ant(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    import anthropic  # noqa: F401, PLC0415 - its first import would eat a short deadline
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with LoopbackServer(AnthropicHandler) as server:
        yield server


def stages(url: str, planner_extra: str = "") -> str:
    return textwrap.dedent(f"""\
        planner: {{vendor: anthropic, model: opus, timeout: 60s, retry_budget: 1,
                   base_url: "{url}"{planner_extra}}}
        coder: {{vendor: anthropic, model: sonnet, timeout: 60s, base_url: "{url}"}}
        """) + sandbox_section()


def by_model(server: LoopbackServer, model: str) -> list[Recorded]:
    return [r for r in server.posts() if r.body["model"] == model]


def tool_names(request: Recorded) -> list[str]:
    return [t["name"] for t in request.body["tools"]]


def test_the_planners_first_turn_carries_the_map_inside_the_cached_prefix(
        run: Callable[..., Outcome], ant: LoopbackServer) -> None:
    ant.queue(*conversation(("submit_manifest", BAD_MANIFEST),  # refused: a re-plan follows
                            ("repo_map", {"query": "slugify", "budget": 300}),
                            ("submit_manifest", MANIFEST),
                            ("repo_map", {"query": ""}),  # a bad call: an error result
                            ("write_file", {"path": "src/slug.js", "content": FIXED}),
                            ("finish", {"summary": "done"})))
    out = run(stages(ant.url))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes() == ["invalid_manifest", "accepted", "passed"]

    first, retry_start, retry_after_tool = by_model(ant, "claude-opus-5-5")
    (stable, ) = first.body["messages"][0]["content"]
    assert stable["cache_control"] == EPHEMERAL  # the breakpoint is on the ticket + map block
    ticket, _, repo_map = stable["text"].partition("\n\n## Repository map\n")
    assert ticket.startswith("# T-1: slugify must trim dashes")
    assert "src/slug.js\n  1: exports.slugify = (t) =>\n" in repo_map
    assert "test/slug.test.js\n" in repo_map
    # the retry sends the same bytes under the same breakpoint, and its brief after them
    same, brief = retry_start.body["messages"][0]["content"]
    assert same == stable
    assert "src/missing.js" in brief["text"]
    assert "## Repository map" not in brief["text"]
    assert "repo_map" in tool_names(first)
    # the Planner's repo_map call was answered from the map
    answer = retry_after_tool.body["messages"][-1]["content"][0]
    assert answer["type"] == "tool_result"
    assert not answer["is_error"]
    assert "src/slug.js" in answer["content"]

    coder_first, coder_after_bad_call, _ = by_model(ant, "claude-sonnet-5-5")
    assert "repo_map" in tool_names(coder_first)
    assert "## Repository map" not in json.dumps(coder_first.body["messages"])  # only the tool
    error = coder_after_bad_call.body["messages"][-1]["content"][0]
    assert error["is_error"]
    assert "repo_map needs `query`" in error["content"]
    events = [json.loads(line) for line in
              (out.result.run_dir / "events.jsonl").read_text().splitlines()]
    (built,) = [e for e in events if e["event"] == "repo_map"]
    assert built["files"] == 2


def test_repo_map_tokens_0_turns_the_map_and_the_tool_off(
        run: Callable[..., Outcome], ant: LoopbackServer) -> None:
    ant.queue(*conversation(("submit_manifest", MANIFEST),
                            ("write_file", {"path": "src/slug.js", "content": FIXED}),
                            ("finish", {"summary": "done"})))
    out = run(stages(ant.url, ", repo_map_tokens: 0"))
    assert out.result.status == "resolved", out.result.detail
    planner, coder, _ = ant.posts()
    assert "## Repository map" not in json.dumps(planner.body["messages"])
    assert "repo_map" not in tool_names(planner) + tool_names(coder)
    events = (out.result.run_dir / "events.jsonl").read_text().splitlines()
    assert "repo_map" not in [json.loads(line)["event"] for line in events]

