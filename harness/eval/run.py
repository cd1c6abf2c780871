"""Running an eval: every instance under every config (or, with ``gold``/``empty``, the
instance's own patch or none, with no model), each result graded by ``Grader``. Each config is a
batch (harness.runs.batch) in its own directory, so a killed eval resumes like a batch: a pair
with a row is not run again.

  EVAL_DIR/<label>/results.jsonl       one row per finished, graded pair (the batch's row plus
                                        ``resolved``, ``grade``, ``stages``, ``outcomes``)
  EVAL_DIR/<label>/predictions.jsonl   the SWE-bench predictions format
  EVAL_DIR/<label>/<run_id>/           each run's directory
  EVAL_DIR/<label>/grades/<id>.txt     each grading run's test output
  EVAL_DIR/eval-results.jsonl          every row, with its ``config``
  EVAL_DIR/summary.json, table.txt     the figures (harness.eval.summary)
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import docker
from rich.console import Console

from harness.config.schema import SandboxConfig
from harness.eval.grade import Grader
from harness.eval.instances import Instance, RepoSource
from harness.eval.summary import (
    Comparison,
    ConfigSummary,
    compare_all,
    comparison_table,
    config_table,
    summarize,
)
from harness.runs.batch import (
    BatchSpec,
    BatchState,
    finished_rows,
    result_row,
    run_batch,
    run_one,
)
from harness.runs.execute import BASELINES
from harness.runs.history import read_run
from harness.runs.record import write_json_atomic, write_text_atomic
from harness.runs.tickets import BatchItem
from harness.sandbox.baseline import BaselineStore

Mode = Literal["configs", "gold", "empty"]
ALL_RESULTS, SUMMARY, TABLE = "eval-results.jsonl", "summary.json", "table.txt"
SCRATCH = ".repos"  # private clones of bare mirrors


@dataclass(frozen=True)
class EvalSpec:
    instances: Sequence[Instance]
    out: Path
    repos: RepoSource
    grading: SandboxConfig  # the sandbox every result is graded in (the same for every config)
    config_dir: Path  # where a relative sandbox.dockerfile is found
    configs: Sequence[Path] = ()
    mode: Mode = "configs"
    workers: int = 2
    redo: bool = False
    history_home: Path | None = None


@dataclass
class EvalResult:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # label -> rows
    summaries: list[ConfigSummary] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    skipped: int = 0


Listener = Callable[[str, BatchState], None]


def labels(configs: Sequence[Path]) -> list[str]:
    """Each config's name in the table and its directory: the file's stem, numbered when two
    stems are the same."""
    seen: dict[str, int] = {}
    out = []
    for path in configs:
        stem = path.stem
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def run_eval(spec: EvalSpec, client: docker.DockerClient, *,
             on_change: Listener | None = None) -> EvalResult:
    spec.out.mkdir(parents=True, exist_ok=True)
    repo_of = {i.instance_id: spec.repos.path(i) for i in spec.instances}  # clones made here
    by_id = {i.instance_id: i for i in spec.instances}
    items = [BatchItem(i.ticket(), repo_of[i.instance_id]) for i in spec.instances]
    targets: list[tuple[str, Path | None]] = (
        list(zip(labels(spec.configs), spec.configs, strict=True)) if spec.mode == "configs"
        else [(spec.mode, None)])
    result = EvalResult()
    for label, config in targets:
        where = spec.out / label
        grader = Grader(client, spec.grading, where / ".grading",
                        BaselineStore(where / BASELINES), spec.config_dir, logs=where / "grades")
        pair = _Pair(grader, by_id, spec.mode)
        batch = BatchSpec(items, Path("."), config or Path("."), where, spec.workers, spec.redo,
                          history_home=spec.history_home, runner=pair)
        state = run_batch(batch, on_change=_tagged(on_change, label))
        result.skipped += state.skipped
        rows = finished_rows(where)
        result.rows[label] = [rows[i.instance_id] for i in spec.instances
                              if i.instance_id in rows]
    result.summaries = [summarize(label, rows) for label, rows in result.rows.items()]
    result.comparisons = compare_all(result.rows)
    write_outputs(spec.out, spec.mode, result)
    return result


def _tagged(listener: Listener | None, label: str) -> Callable[[BatchState], None] | None:
    if listener is None:
        return None
    return lambda state: listener(label, state)


@dataclass(frozen=True)
class _Pair:
    """The batch's runner for one config: the run (or the gold/empty patch), then its grade."""

    grader: Grader
    instances: Mapping[str, Instance]
    mode: Mode

    def __call__(self, spec: BatchSpec, item: BatchItem) -> dict[str, Any]:
        inst = self.instances[item.ticket.id]
        assert item.repo is not None
        if self.mode != "configs":
            started = time.monotonic()
            grade = self.grader.grade(inst, item.repo, inst.patch if self.mode == "gold" else "")
            status = (grade.outcome if self.mode == "empty" or grade.outcome == "error"
                      else "valid" if grade.resolved else "invalid")
            row = result_row(item, None, status, grade.detail, time.monotonic() - started)
        else:
            row = run_one(spec, item)
            run_dir = spec.runs_dir / str(row["run_dir"]) if row.get("run_dir") else None
            diff = run_dir / "final.diff" if run_dir else None
            patch = diff.read_text(encoding="utf-8") if diff and diff.is_file() else ""
            grade = self.grader.grade(inst, item.repo, patch)
            row |= stage_figures(read_run(run_dir) if run_dir else None)
        return {**row, "resolved": grade.resolved, "grade": grade.as_dict()}


def stage_figures(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """Per stage, what the run's attempts spent (tokens, dollars, seconds, attempts); and each
    attempt's outcome, in order: the path the run took."""
    stages: dict[str, dict[str, float]] = {}
    outcomes = []
    for a in (state or {}).get("attempts", []):
        spent = stages.setdefault(str(a["stage"]), {"tokens": 0, "cost_usd": 0.0,
                                                    "duration_s": 0.0, "attempts": 0})
        spent["tokens"] += int(a.get("tokens") or 0)
        spent["cost_usd"] += float(a.get("cost_usd") or 0.0)
        spent["duration_s"] += float(a.get("duration_s") or 0.0)
        spent["attempts"] += 1
        outcomes.append(f"{a['stage']}:{a.get('outcome')}")
    return {"stages": stages, "outcomes": outcomes}


def render(result: EvalResult, width: int = 160) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), highlight=False)
    console.print(config_table(result.summaries))
    if result.comparisons:
        console.print(comparison_table(result.comparisons))
    return console.export_text()


def write_outputs(out: Path, mode: Mode, result: EvalResult) -> None:
    lines = [json.dumps({"config": label, **row}) + "\n"
             for label, rows in result.rows.items() for row in rows]
    write_text_atomic(out / ALL_RESULTS, "".join(lines))
    write_json_atomic(out / SUMMARY, {
        "mode": mode, "configs": [s.as_dict() for s in result.summaries],
        "comparisons": [c.as_dict() for c in result.comparisons]})
    write_text_atomic(out / TABLE, render(result))


def is_eval(path: Path) -> bool:
    return (path / SUMMARY).is_file() and (path / ALL_RESULTS).is_file()


def read_eval(out: Path) -> EvalResult:
    """An eval directory's figures again, from its eval-results.jsonl (``harness report``)."""
    result = EvalResult()
    for line in (out / ALL_RESULTS).read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            result.rows.setdefault(str(row.pop("config", "?")), []).append(row)
    result.summaries = [summarize(label, rows) for label, rows in result.rows.items()]
    result.comparisons = compare_all(result.rows)
    return result
