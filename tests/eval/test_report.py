"""``harness report`` on an eval directory: the side-by-side table, and each config's directory
reported as a batch (engine-free: the directory is written by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main
from harness.eval.run import EvalResult, write_outputs
from harness.eval.summary import compare_all, summarize
from harness.runs.batch import append_result


def test_report_draws_the_eval_table_and_each_configs_batch(tmp_path: Path) -> None:
    rows = {"a": [{"ticket": "i-1", "status": "halted", "resolved": False, "cost_usd": 0.5,
                   "tokens": 10, "duration_s": 1.0, "run_dir": None}],
            "b": [{"ticket": "i-1", "status": "resolved", "resolved": True, "cost_usd": 0.25,
                   "tokens": 10, "duration_s": 1.0, "run_dir": None}]}
    for label, found in rows.items():
        (tmp_path / label).mkdir()
        for row in found:
            append_result(tmp_path / label, row)
    write_outputs(tmp_path, "configs", EvalResult(
        rows, [summarize(k, v) for k, v in rows.items()], compare_all(rows)))
    got = CliRunner().invoke(main, ["report", str(tmp_path)], terminal_width=200)
    assert got.exit_code == 0, got.output
    assert "configs side by side" in got.output
    assert "-$0.250000" in got.output  # b - a per instance
    assert (tmp_path / "a" / "report.html").is_file()
    as_json = CliRunner().invoke(main, ["report", str(tmp_path), "--json"])
    data = json.loads(as_json.output)
    assert [c["label"] for c in data["configs"]] == ["a", "b"]
    assert data["comparisons"][0]["cost_usd"]["mean"] == -0.25
