"""A run as OpenTelemetry spans, received by a real OTLP/HTTP receiver on loopback (the wire
format decoded with the protocol's own classes): the span tree run > attempt > chat / tool /
tests, GenAI attributes equal to run.json's figures, nothing of a prompt or a file in them, and
with no endpoint nothing imported and nothing sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from harness.cli import main
from harness.cli.tracing import enabled, run_tracer
from harness.config.catalog import packaged_catalog
from harness.config.schema import ModelEntry
from harness.pipeline.events import AttemptRecord
from harness.runs.telemetry import TracedRecorder, otlp_tracing
from harness.vendors.scripted import Reply, ScriptedOptions
from harness.vendors.types import CallSettings, Message, ModelRequest, ModelResponse, Usage
from tests.pipeline.conftest import BUGGY, FIXED, TICKET, tree_digest
from tests.pipeline.test_scripted_runs import APPROVE, PLAN, Plays, stages
from tests.runs.batch_scripts import STAGES as BATCH_STAGES
from tests.runs.otlp_receiver import ReceivedSpan, otlp_receiver

ROOT = Path(__file__).resolve().parents[2]
CACHED = Usage(100, 40, cache_read_tokens=900, cache_write_tokens=50)


def _entry(name: str) -> tuple[str, ModelEntry]:
    found = packaged_catalog().resolve(name)
    assert found is not None
    return found


def _request(model: str = "sonnet") -> ModelRequest:
    model_id, entry = _entry(model)
    settings = CallSettings(model_id, entry, None, ScriptedOptions(script="x"), 1000, None, "K")
    return ModelRequest(settings, "SECRET SYSTEM PROMPT", (Message("user", "SECRET TICKET"),),
                        time.monotonic() + 60)


def _response(usage: Usage, latency: float) -> ModelResponse:
    return ModelResponse("SECRET ANSWER", (), "tool_use", usage, 0.0123, latency,
                         _entry("sonnet")[0], request_id="req-1")


def _record(label: str, usage: Usage, outcome: str, duration: float) -> AttemptRecord:
    return AttemptRecord("coder", 1, label, "medium", "scripted", "claude-sonnet", None, usage,
                         usage.total, 0.0123, duration, 1, outcome)


def _tree(spans: list[ReceivedSpan]) -> tuple[ReceivedSpan, dict[str, list[ReceivedSpan]]]:
    assert len({s.trace_id for s in spans}) == 1, "one run, one trace"
    (root,) = [s for s in spans if not s.parent_id]
    children: dict[str, list[ReceivedSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_ns):
        children.setdefault(span.parent_id, []).append(span)
        parent = next((p for p in spans if p.span_id == span.parent_id), None)
        if parent is not None:  # a child lies within its parent
            assert parent.start_ns <= span.start_ns <= span.end_ns <= parent.end_ns, span.name
    return root, children


def _no_secrets(spans: list[ReceivedSpan], *secrets: str) -> None:
    for span in spans:
        text = json.dumps(span.attributes)
        for secret in secrets:
            assert secret not in text, (span.name, secret)


def test_the_recorder_traces_attempts_calls_and_tools(tmp_path: Path) -> None:
    """The recorder alone, driven as the pipeline drives it: a tool runs from its event until
    the next model call starts; the attempt ends after its tests."""
    with otlp_receiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces")
        with otlp_tracing(exporter) as tracer:
            recorder = TracedRecorder(tmp_path / "run", {"run_id": "R-1", "ticket": {"id": "T-1"}},
                                      tracer=tracer)
            recorder.event("attempt_start", stage="coder", label="coder/S1/a1", tier="medium",
                           vendor="scripted", model="claude-sonnet")
            recorder.exchange("coder", 1, _request(), _response(CACHED, 0.01))
            recorder.event("tool", label="coder/S1/a1",
                           call='write_file({"path": "src/a.js", "content": "SECRET FILE"})')
            time.sleep(0.05)  # the tool runs
            recorder.exchange("coder", 1, _request(), _response(Usage(5, 5), 0.02))
            recorder.event("tests", label="coder/S1/a1", scope="affected", passed=True)
            recorder.attempt(_record("coder/S1/a1", CACHED + Usage(5, 5), "passed", 0.2))
            recorder.event("attempt_end", stage="coder", attempt=1, outcome="passed")
            recorder.finish("resolved")
    root, children = _tree(receiver.spans)
    assert root.name == "run T-1"
    assert root.attributes["harness.status"] == "resolved"
    assert root.status == 1  # OK
    assert root.resource["service.name"] == "harness"
    (attempt,) = children[root.span_id]
    assert attempt.name == "invoke_agent coder"
    assert attempt.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attempt.attributes["harness.outcome"] == "passed"
    first, tool, second, tests = children[attempt.span_id]
    assert [first.name, tool.name, second.name, tests.name] == [
        f"chat {_entry('sonnet')[0]}", "execute_tool write_file", first.name, "tests affected"]
    assert first.attributes["gen_ai.operation.name"] == "chat"
    assert first.attributes["gen_ai.provider.name"] == "anthropic"
    assert first.attributes["gen_ai.usage.input_tokens"] == 100 + 900 + 50
    assert first.attributes["gen_ai.usage.cache_read.input_tokens"] == 900
    assert first.attributes["gen_ai.usage.cache_creation.input_tokens"] == 50
    assert first.attributes["gen_ai.usage.output_tokens"] == 40
    assert first.attributes["harness.cost_usd"] == 0.0123
    assert tool.attributes == {"gen_ai.operation.name": "execute_tool",
                               "gen_ai.tool.name": "write_file"}
    assert tool.end_ns == second.start_ns  # the tool ran until the next call started
    assert tool.end_ns - tool.start_ns >= 25_000_000  # 50 ms, less the next call's 20 ms
    _no_secrets(receiver.spans, "SECRET", "src/a.js")


def test_no_endpoint_imports_nothing_and_sends_nothing() -> None:
    assert not enabled({})
    assert not enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": " "})
    assert not enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"})
    assert enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x/v1/traces"})
    code = ("import sys, harness.cli, harness.cli.run_cmds, harness.runs.batch\n"
            "from harness.cli.tracing import run_tracer\n"
            "with run_tracer({}) as tracer: assert tracer is None\n"
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)
    assert out.stdout.strip() == "[]"
    with run_tracer({}) as tracer:
        assert tracer is None


def _traced_run(tmp_path: Path, repo: Path, config: str, env: dict[str, str]
                ) -> tuple[dict[str, Any], Path]:
    (tmp_path / "stages.yaml").write_text(config, encoding="utf-8")
    (tmp_path / "ticket.yaml").write_text(TICKET, encoding="utf-8")
    before = tree_digest(repo)
    result = CliRunner(env=env).invoke(main, [
        "run", str(tmp_path / "ticket.yaml"), "--repo", str(repo), "-c",
        str(tmp_path / "stages.yaml"), "--runs-dir", str(tmp_path / "runs")])
    assert tree_digest(repo) == before
    (run_dir,) = (tmp_path / "runs").glob("T-1-*")
    assert result.exit_code == 0, result.output
    return json.loads((run_dir / "run.json").read_text()), run_dir


def _code(source: str, usage: Usage | None = None) -> list[Reply]:
    return [Reply("", [("read_file", {"path": "src/slug.js"})], usage=usage),
            Reply("", [("write_file", {"path": "src/slug.js", "content": source})]),
            Reply("", [("finish", {"summary": "changed slugify"})])]


@pytest.mark.docker
def test_a_traced_run_reaches_a_real_receiver(tmp_path: Path, repo: Path) -> None:
    config = stages({"planner": Plays(PLAN), "coder": Plays(_code(BUGGY, CACHED), _code(FIXED)),
                     "reviewer": Plays(APPROVE)})
    with otlp_receiver() as receiver:
        state, run_dir = _traced_run(tmp_path, repo, config,
                                     {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint})
    spans = receiver.spans
    root, children = _tree(spans)
    assert root.name == "run T-1"
    assert root.attributes["harness.run_id"] == state["run_id"]
    attempts = children[root.span_id]
    assert [a.attributes["harness.outcome"] for a in attempts] == [
        a["outcome"] for a in state["attempts"]] == ["accepted", "tests_failed", "passed",
                                                     "approved"]
    for span, record in zip(attempts, state["attempts"], strict=True):
        assert span.attributes["harness.label"] == record["label"]
        assert span.attributes["harness.cost_usd"] == record["cost_usd"]
        assert span.attributes["gen_ai.usage.output_tokens"] == record["usage"]["output_tokens"]
    chats = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(chats) == len(list((run_dir / "llm").iterdir())) == 2 + 3 + 3 + 1
    assert {c.parent_id for c in chats} <= {a.span_id for a in attempts}
    totals = state["totals"]
    assert sum(c.attributes["harness.cost_usd"] for c in chats) == pytest.approx(
        totals["cost_usd"], abs=1e-6)
    assert sum(c.attributes["gen_ai.usage.cache_read.input_tokens"] for c in chats) == (
        totals["cache_read_tokens"]) == 900
    assert sum(c.attributes["gen_ai.usage.input_tokens"] for c in chats) == (
        totals["input_tokens"] + totals["cache_read_tokens"] + totals["cache_write_tokens"])
    assert sum(c.attributes["gen_ai.usage.output_tokens"] for c in chats) == (
        totals["output_tokens"])
    assert root.attributes["harness.cost_usd"] == totals["cost_usd"]
    assert root.attributes["harness.tokens"] == totals["tokens"]
    tools = [s.attributes["gen_ai.tool.name"] for s in spans
             if s.attributes.get("gen_ai.operation.name") == "execute_tool"]
    assert tools == ["list_files", "submit_manifest", "read_file", "write_file", "finish",
                     "read_file", "write_file", "finish", "submit_review"]
    tests = [s for s in spans if s.name.startswith("tests ")]
    assert [t.attributes["harness.tests.passed"] for t in tests][-1] is True
    assert {t.parent_id for t in tests} <= {a.span_id for a in attempts[1:3]}
    _no_secrets(spans, "exports.slugify", "must be", "src/slug.js")


@pytest.mark.docker
def test_each_run_of_a_local_batch_is_a_trace(tmp_path: Path, repo: Path) -> None:
    rows = [{"id": f"B-{i}", "title": f"trim dashes ({i})", "body": "slugify must trim",
             "fail_to_pass": ["trims dashes"]} for i in (1, 2)]
    (tmp_path / "tickets.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "stages.yaml").write_text(BATCH_STAGES, encoding="utf-8")
    with otlp_receiver() as receiver:
        result = CliRunner(env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}).invoke(main, [
            "batch", str(tmp_path / "tickets.jsonl"), "--repo", str(repo), "-c",
            str(tmp_path / "stages.yaml"), "--runs-dir", str(tmp_path / "runs"),
            "--workers", "2"])
    assert result.exit_code == 1, result.output  # B-1 gets the buggy fix
    roots = sorted((s for s in receiver.spans if not s.parent_id), key=lambda s: s.name)
    assert [r.name for r in roots] == ["run B-1", "run B-2"]
    assert len({r.trace_id for r in roots}) == 2
    recorded = {json.loads(line)["run_dir"] for line in
                (tmp_path / "runs" / "results.jsonl").read_text().splitlines()}
    assert {r.attributes["harness.run_id"] for r in roots} == recorded
    by_trace = {r.trace_id: r for r in roots}
    assert all(s.trace_id in by_trace for s in receiver.spans)
