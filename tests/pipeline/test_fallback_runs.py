"""A stage's fallback with the real Anthropic and Google SDK clients against loopback servers: the
primary answers 529/500/503 or hangs, the other vendor takes the turns over, the ticket
resolves, and run.json, llm/ and the report say who served each turn. A refused request or key
(400, 401) is not an outage and does not fall back."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.fakes.anthropic_server import conversation, status, tool_use
from harness.fakes.loopback import LoopbackServer, Reply
from harness.report.run import run_report
from harness.runs.reproduce import replay_run
from tests.pipeline.conftest import (
    ANTHROPIC_KEY,
    FIXED,
    GOOGLE_KEY,
    MANIFEST,
    Outcome,
    sandbox_section,
)

pytestmark = pytest.mark.docker  # every test here needs the engine

IN_CALL = 3  # requests one failed primary call makes: the first and its 2 in-call retries



def stages(ant: str, goo: str) -> str:
    return textwrap.dedent(f"""\
        planner: {{vendor: anthropic, model: opus, timeout: 60s, base_url: "{ant}"}}
        coder:
          vendor: anthropic
          model: sonnet
          timeout: 60s
          base_url: "{ant}"
          fallback: {{vendor: google, model: gemini-flash, base_url: "{goo}",
                      call_timeout: 2s}}
        reviewer:
          vendor: google
          model: gemini-flash
          timeout: 60s
          base_url: "{goo}"
          fallback: {{vendor: anthropic, model: sonnet, base_url: "{ant}"}}
        """) + sandbox_section()


def call(name: str, args: dict[str, Any]) -> Reply:
    return Reply("function_call", {"calls": [{"name": name, "args": args}]})


APPROVE = ("submit_review", {"verdict": "approve", "findings": []})


def exchanges(run_dir: Path, stage: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "llm").glob(f"*-{stage}-*"))]


def no_keys(run_dir: Path) -> None:
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert ANTHROPIC_KEY not in text
            assert GOOGLE_KEY not in text


FAULTS = {"529": [status(529, "Overloaded")] * IN_CALL * 2,
          "500": [status(500, "Internal server error")] * IN_CALL * 2,
          "hang": [Reply("hang")] * 2}  # a hang is one call past call_timeout, not retried


def coder_falls_back(run: Callable[..., Outcome], ant: LoopbackServer, goo: LoopbackServer,
                     fault: str) -> Outcome:
    """Anthropic plans and serves the Coder's first turn, then goes down mid-attempt (``fault``);
    Google finishes the Coder's attempt and reviews. The run resolves."""
    ant.queue(*conversation(("submit_manifest", MANIFEST),
                            ("write_file", {"path": "src/slug.js", "content": FIXED})),
              *FAULTS[fault])
    goo.queue(call("finish", {"summary": "slugify trims dashes"}), call(*APPROVE))
    out = run(stages(ant.url, goo.url))
    assert out.result.status == "resolved", out.result.detail
    return out


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_coder_falls_back_to_google_when_anthropic_is_down(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer],
        fault: str) -> None:
    ant, goo = ant_goo
    out = coder_falls_back(run, ant, goo, fault)
    assert out.outcomes() == ["accepted", "passed", "approved"]

    coder = out.state["attempts"][1]
    failed = "VendorTimeoutError" if fault == "hang" else "TransientVendorError"
    assert coder["served"] == [
        {"vendor": "anthropic", "model": "claude-sonnet-5-5", "fallback": False, "turns": 1,
         "failed": 2},
        {"vendor": "google", "model": "gemini-3.5-flash", "fallback": True, "turns": 1,
         "failed": 0}]
    assert coder["vendor"] == "anthropic"  # the stage's own, as configured
    calls = exchanges(out.result.run_dir, "coder")
    assert [(c["vendor"], c["model_id"], c["error_type"]) for c in calls] == [
        ("anthropic", "claude-sonnet-5-5", None), ("anthropic", "claude-sonnet-5-5", failed),
        ("anthropic", "claude-sonnet-5-5", failed), ("google", "gemini-3.5-flash", None)]
    # Each failure is a call with its in-call retries, as many as fit in call_timeout (2s).
    assert 2 + 2 <= len(list(ant.posts())) <= 2 + len(FAULTS[fault])

    # Google got the whole conversation so far (the write_file call and its result), with its
    # own key only.
    finish, _review = list(goo.posts())
    assert "gemini-3.5-flash" in finish.path
    parts = [p for c in finish.body["contents"] for p in c["parts"]]
    assert [p["functionCall"]["name"] for p in parts if "functionCall" in p] == ["write_file"]
    assert any("functionResponse" in p for p in parts)
    assert finish.headers["x-goog-api-key"] == GOOGLE_KEY
    assert ANTHROPIC_KEY not in json.dumps(finish.headers) + json.dumps(finish.body)

    events = [json.loads(line) for line in
              (out.result.run_dir / "events.jsonl").read_text().splitlines()]
    (switch,) = [e for e in events if e["event"] == "fallback"]
    assert (switch["stage"], switch["vendor"], switch["failures"]) == ("coder", "google", 2)
    timeline = {a["label"]: a for a in run_report(out.result.run_dir)["attempts"]}
    assert timeline["coder/S1/a1"]["vendor"] == "anthropic → google (fallback, 1 turn)"
    assert timeline["coder/S1/a1"]["model"] == "claude-sonnet-5-5 → gemini-3.5-flash"
    assert timeline["planner/a1"]["vendor"] == "anthropic"
    no_keys(out.result.run_dir)


def test_a_run_that_fell_back_replays_without_reaching_either_vendor(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer]) -> None:
    ant, goo = ant_goo
    out = coder_falls_back(run, ant, goo, "529")
    asked = (len(list(ant.posts())), len(list(goo.posts())))
    again = replay_run(out.result.run_dir, out.state)
    assert again.status == "resolved", again.detail
    state = json.loads((again.run_dir / "run.json").read_text())
    assert [a["outcome"] for a in state["attempts"]] == out.outcomes()
    assert [(s["fallback"], s["turns"], s["failed"]) for s in state["attempts"][1]["served"]] \
        == [(False, 1, 2), (True, 1, 0)]
    assert (len(list(ant.posts())), len(list(goo.posts()))) == asked


def test_the_reviewer_falls_back_to_anthropic_when_google_answers_503(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer]) -> None:
    ant, goo = ant_goo
    ant.queue(*conversation(("submit_manifest", MANIFEST),
                            ("write_file", {"path": "src/slug.js", "content": FIXED}),
                            ("finish", {"summary": "done"})),
              tool_use(*APPROVE, call_id="toolu_review"))
    goo.queue(*[Reply("status", {"code": 503})] * IN_CALL * 2)
    out = run(stages(ant.url, goo.url))
    assert out.result.status == "resolved", out.result.detail
    reviewer = out.state["attempts"][-1]
    assert reviewer["outcome"] == "approved"
    assert [(s["vendor"], s["fallback"], s["turns"], s["failed"]) for s in reviewer["served"]] \
        == [("google", False, 0, 2), ("anthropic", True, 1, 0)]
    assert [(c["vendor"], c["error_type"]) for c in exchanges(out.result.run_dir, "reviewer")] \
        == [("google", "TransientVendorError")] * 2 + [("anthropic", None)]
    review = list(ant.posts())[-1]
    assert review.body["model"] == "claude-sonnet-5-5"
    assert review.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert len(list(goo.posts())) == IN_CALL * 2
    no_keys(out.result.run_dir)


@pytest.mark.parametrize("code", [400, 401])
def test_a_refused_request_or_key_does_not_fall_back(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer],
        code: int) -> None:
    ant, goo = ant_goo
    ant.queue(*conversation(("submit_manifest", MANIFEST)), status(code, "refused"))
    out = run(stages(ant.url, goo.url))
    assert out.result.status == "halted"
    coder = out.state["attempts"][1]
    assert coder["outcome"] == "error"
    assert coder["served"] == [{"vendor": "anthropic", "model": "claude-sonnet-5-5",
                                "fallback": False, "turns": 0, "failed": 1}]
    assert list(goo.posts()) == []  # google never asked
    assert len(list(ant.posts())) == 2  # and the refusal was not retried
    events = (out.result.run_dir / "events.jsonl").read_text()
    assert '"event": "fallback"' not in events
