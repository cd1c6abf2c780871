"""HANDOFF.md: what a person needs to pick up a run that a stage surfaced to them."""

from __future__ import annotations

import shlex
from typing import Any

from harness.pipeline.events import Ending
from harness.pipeline.orchestrator import Pipeline


def handoff_text(state: dict[str, Any], pipeline: Pipeline, ending: Ending, diff: str) -> str:
    ticket = state["ticket"]
    lines = [f"# Handoff: {ticket['id']} — {ticket['title']}", "",
             f"The **{ending.stage}** stage ran out of attempts and its `on_exhaust` is "
             "`surface_to_human`. Run id: `" + state["run_id"] + "`.", "",
             "## The ticket", "", ticket.get("body") or "(no body)", "",
             "## What each attempt tried", "",
             "| attempt | tier | model | outcome | tokens | cost |",
             "|---|---|---|---|---|---|"]
    for a in state.get("attempts", []):
        lines.append(f"| {a['label']} | {a['tier']} | {a['model']} | {a['outcome']} | "
                     f"{a['tokens']:,} | ${a['cost_usd']:.4f} |")
    lines += ["", "## The last failure", "", "```", ending.detail[-6000:] or "(none)", "```", ""]
    if pipeline.diagnoses:
        lines += ["## The Debugger's diagnosis", ""]
        for d in pipeline.diagnoses:
            lines += [f"- owner: **{d.owner}**", f"- root cause: {d.root_cause}",
                      f"- brief: {d.brief}", ""]
    lines += ["## The current diff", "", "```diff", diff or "(no changes)", "```", "",
              "## Reproduce", "",
              "Open the failed run's container with its workspace and diff applied:", "",
              "```", f"harness reproduce {shlex.quote(str(state.get('run_dir', '.')))}", "```",
              ""]
    return "\n".join(lines)
