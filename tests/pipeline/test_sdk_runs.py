"""The pipeline with the real Anthropic and Google SDK clients against loopback servers speaking
their wire protocols: escalation reaches the wire, stages keep to their own endpoints, and a hung
endpoint costs one attempt, not the run."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from harness.fakes.anthropic_server import conversation, status
from harness.fakes.loopback import LoopbackServer, Recorded, Reply
from harness.report.run import run_report
from tests.pipeline.conftest import (
    ANTHROPIC_KEY,
    BUGGY,
    FIXED,
    GOOGLE_KEY,
    MANIFEST,
    Outcome,
    sandbox_section,
)

pytestmark = pytest.mark.docker  # every test here needs the engine




def stages(ant: str, goo: str, *, coder_timeout: str = "60s", reviewer: bool = True) -> str:
    text = textwrap.dedent(f"""\
        planner: {{vendor: anthropic, model: opus, timeout: 60s, base_url: "{ant}"}}
        coder:
          vendor: anthropic
          model: sonnet
          timeout: {coder_timeout}
          retry_budget: 2
          on_retry: {{compute: increased}}
          base_url: "{ant}"
        """)
    if reviewer:
        text += ("reviewer: {vendor: google, model: gemini-flash, timeout: 60s, "
                 f'base_url: "{goo}"}}\n')
    return text + sandbox_section()


def coder_turns(source: str) -> list[Any]:
    return [("write_file", {"path": "src/slug.js", "content": source}),
            ("finish", {"summary": "done"})]


def first_requests(srv: LoopbackServer) -> list[Recorded]:
    """The first request of each attempt: the one whose conversation is a single user turn."""
    return [r for r in srv.posts() if len(r.body["messages"]) == 1]


def test_escalation_reaches_the_wire_and_stages_keep_to_their_endpoints(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer]) -> None:
    ant, goo = ant_goo
    ant.queue(*conversation(("submit_manifest", MANIFEST), *coder_turns(BUGGY),
                            *coder_turns(BUGGY), *coder_turns(FIXED)))
    goo.queue(Reply("function_call", {"calls": [
        {"name": "submit_review", "args": {"verdict": "approve", "findings": []}}]}))
    out = run(stages(ant.url, goo.url))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes() == ["accepted", "tests_failed", "tests_failed", "passed", "approved"]

    planner, *coders = first_requests(ant)
    assert planner.body["model"] == "claude-opus-5-5"
    efforts = [r.body["output_config"]["effort"] for r in coders]
    assert efforts == ["medium", "high", "max"]
    third = json.dumps(coders[2].body["messages"])
    assert "trims dashes" in third[third.index("Your previous attempt failed"):]
    assert "Your previous attempt failed" not in json.dumps(coders[0].body["messages"])

    # The Reviewer's one request reached only Google; nothing else did.
    assert len(list(ant.posts())) == 1 + 6
    (review,) = list(goo.posts())
    assert "gemini-3.5-flash" in review.path
    assert all("claude" in r.body["model"] for r in ant.posts())
    for path in out.result.run_dir.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert ANTHROPIC_KEY not in text
            assert GOOGLE_KEY not in text


def test_a_hung_endpoint_times_the_attempt_out_and_the_run_goes_on(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer]) -> None:
    ant, goo = ant_goo
    ant.queue(*conversation(("submit_manifest", MANIFEST)), Reply("hang"),
              *conversation(*coder_turns(FIXED)))
    out = run(stages(ant.url, goo.url, coder_timeout="3s", reviewer=False))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes("coder") == ["timed_out", "passed"]
    timed_out = out.state["attempts"][1]
    assert 2.5 < timed_out["duration_s"] < 4.5


def test_waiting_for_a_rate_limit_is_not_the_attempts_time(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer]) -> None:
    """Two 429s with retry-after 2 s on a 3 s Coder: 4 s of waiting, more than the whole timeout.
    The first wait is queueing (the attempt's queueing budget is its timeout, 3 s), the second
    comes out of the attempt's own time, and the attempt still finishes (it failed before)."""
    ant, goo = ant_goo
    ant.queue(*conversation(("submit_manifest", MANIFEST)), status(429, retry_after=2),
              status(429, retry_after=2), *conversation(*coder_turns(FIXED)))
    out = run(stages(ant.url, goo.url, coder_timeout="3s", reviewer=False))
    assert out.result.status == "resolved", out.result.detail
    assert out.outcomes("coder") == ["passed"]
    queued = [json.loads(line) for line in (out.result.run_dir / "events.jsonl").open()
              if json.loads(line)["event"] == "queued"]
    assert [q["label"] for q in queued] == ["coder/S1/a1"]
    assert queued[0]["total"] == pytest.approx(2)


BIG_TICKET = """\
id: T-2
title: slugify must trim dashes
fail_to_pass: [trims dashes]
body: |
  slugify(" Hi, you! ") must be "hi-you".
""" + "".join(f"  Background note {i}: slugs feed URLs, file names and anchors alike.\n"
              for i in range(120))


def test_turns_and_retries_read_the_cache_and_the_run_records_it(
        run: Callable[..., Outcome], ant_goo: tuple[LoopbackServer, LoopbackServer]) -> None:
    ant, goo = ant_goo
    ant.queue(*conversation(("submit_manifest", MANIFEST), *coder_turns(BUGGY),
                            *coder_turns(FIXED)))
    out = run(stages(ant.url, goo.url, reviewer=False), ticket=BIG_TICKET)
    assert out.outcomes() == ["accepted", "tests_failed", "passed"]
    exchanges = sorted((out.result.run_dir / "llm").glob("*-coder-*.json"))
    usage = [json.loads(p.read_text())["response"]["usage"] for p in exchanges]
    sent = [u["input_tokens"] + u["cache_read_tokens"] + u["cache_write_tokens"] for u in usage]
    first, second, retry, retry_second = usage
    assert first["cache_read_tokens"] == 0
    assert second["cache_read_tokens"] == sent[0]  # the whole first turn
    # The retry's first turn reads tools, system and the ticket context the first attempt
    # wrote; only the failing tests after them are new.
    assert retry["cache_read_tokens"] > 0.8 * sent[2]
    assert retry_second["cache_read_tokens"] == sent[2]
    coder = out.state["cache"]["coder"]
    read = sum(u["cache_read_tokens"] for u in usage)
    assert coder["cache_read_tokens"] == read
    assert coder["cache_share"] == round(read / sum(sent), 4)
    shown = {s["stage"]: s["cache_share"] for s in run_report(out.result.run_dir)["money"][
        "by_stage"]}
    assert shown["coder"] == coder["cache_share"]
