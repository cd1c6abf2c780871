"""The pipeline with the real claude CLI inside the ticket's container: the Planner's manifest
comes back through --json-schema, the Coder edits /workspace with the CLI's own tools, and the
harness's tests judge the result."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import docker
import pytest

from harness.fakes.anthropic_server import AnthropicHandler, text, tool_use
from harness.fakes.loopback import LoopbackServer, Reply
from tests.pipeline.conftest import FIXED, MANIFEST, Outcome

pytestmark = pytest.mark.docker  # every test here needs the engine

KEY = "sk-ant-test-" + "pipeline0cli" * 2


@pytest.fixture
def server(client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[LoopbackServer]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with LoopbackServer(AnthropicHandler) as srv:
        yield srv


def stages(url: str) -> str:
    return f"""\
planner: {{vendor: claude-cli, model: sonnet, timeout: 120s, base_url: "{url}"}}
coder: {{vendor: claude-cli, model: sonnet, timeout: 120s, base_url: "{url}"}}
sandbox:
  image: harness-sandbox:clis
  install_clis: true
  network: cli-only
  test_command: node --test test/*.test.js  # node 22 takes files, not a directory
"""


def test_claude_cli_stages_resolve_a_ticket(run: Callable[..., Outcome],
                                            server: LoopbackServer) -> None:
    server.queue(
        tool_use("StructuredOutput", MANIFEST),  # the Planner's --json-schema answer
        tool_use("Read", {"file_path": "/workspace/src/slug.js"}),
        tool_use("Write", {"file_path": "/workspace/src/slug.js", "content": FIXED},
                 call_id="toolu_02"),
        text("slugify now trims dashes"))
    out = run(stages(server.url))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes() == ["accepted", "passed"]
    assert out.state["manifest"]["sub_tickets"][0]["id"] == "S1"
    assert "replace(/^-+|-+$/g" in out.result.patch.read_text()
    planner_body = next(server.posts()).body
    assert any(t["name"] == "StructuredOutput" for t in planner_body["tools"])
    for path in out.result.run_dir.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace")
    sent = json.dumps([r.body for r in server.posts()])
    assert "trim dashes in slugify" in sent  # the Coder's prompt carried the sub-ticket


def test_a_session_killed_at_its_deadline_still_counts_its_tokens(
        run: Callable[..., Outcome], server: LoopbackServer) -> None:
    """The Coder's CLI session streams the start of an answer (the API has reported the input)
    and then nothing: the deadline kills it, and its tokens, as the egress proxy counted them
    from the stream, are in run.json and on the meter."""
    server.queue(tool_use("StructuredOutput", MANIFEST),
                 Reply("hang", {"after_events": 3, "text": "thinking it over " * 10,
                                "usage": {"input_tokens": 7000, "output_tokens": 900}}))
    out = run(stages(server.url).replace(
        "coder: {vendor: claude-cli, model: sonnet, timeout: 120s,",
        "coder: {vendor: claude-cli, model: sonnet, timeout: 15s, on_exhaust: halt,"))
    assert out.result.status == "halted", out.result.detail
    coder = [a for a in out.state["attempts"] if a["stage"] == "coder"]
    assert [a["outcome"] for a in coder] == ["timed_out"]
    assert coder[0]["tokens"] >= 7000 + 1  # the input, and an estimate of the output seen
    assert out.state["totals"]["tokens"] >= coder[0]["tokens"]
