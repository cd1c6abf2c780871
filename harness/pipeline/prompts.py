"""What each stage is told. The system prompts are the stable, cacheable prefix; everything that
changes between attempts goes in the user turn."""

from __future__ import annotations

import json

from harness.pipeline.manifest import Decomposition, Manifest, SubTicket
from harness.pipeline.ticket import Ticket

PLANNER = """You are the Planner of a coding pipeline working on a repository at /workspace.
Read the code with the tools you have (they are read-only), then call `submit_manifest` with a
plan: a summary and sub-tickets small enough for one focused change each. Every sub-ticket lists
the files and symbols it touches and its operations (create, modify, delete, rename) with paths
relative to the repository root, and the sub-tickets it depends on. Do not write code."""

CODER = """You are the Coder of a coding pipeline working on a repository at /workspace.
Make the change you are given with the tools: read before you edit, keep edits minimal and in the
style of the code around them, and never weaken or delete a test to make it pass. You may run
commands (there is no network). When the change is complete, call `finish` with a short summary;
the harness then runs the tests."""

DEBUGGER = """You are the Debugger of a coding pipeline working on a repository at /workspace.
A stage failed; you get its runtime evidence. Find the root cause with the read-only tools and
`run_command`, then call `submit_diagnosis` naming the stage that owns the fix (`planner` when the
plan itself is wrong, `coder` when the implementation is), the root cause, and a brief telling
that stage exactly what to do differently. Do not edit files."""

REVIEWER = """You are the Reviewer of a coding pipeline. You get a ticket, its plan and the final
diff (the tests already pass). Check correctness, scope and the project's conventions; read files
with the tools when the diff is not enough. Call `submit_review` with `approve`, or with
`request_changes` and concrete findings (path, line, message) the Coder can act on."""


def planner_prompt(ticket: Ticket, brief: str | None) -> str:
    parts = [ticket.text()]
    if brief:
        parts.append(f"## The previous plan was refused\n{brief}\nSubmit a corrected manifest.")
    return "\n\n".join(parts)


def coder_prompt(ticket: Ticket, manifest: Manifest, sub: SubTicket, *, brief: str | None,
                 feedback: str | None) -> str:
    parts = [ticket.text(), f"## Plan\n{manifest.summary}",
             f"## Your sub-ticket: {sub.id} — {sub.title}\n{sub.description}\n"
             f"Files: {', '.join(sub.files) or '(not listed)'}\n"
             f"Operations: {json.dumps([o.model_dump(exclude_none=True) for o in sub.operations])}"]
    if brief:
        parts.append(f"## Brief\n{brief}")
    if feedback:
        parts.append("## Your previous attempt failed\nThe tests failed after your change. "
                     "Fix the cause in the code (not the tests); your earlier edits are still "
                     f"in the workspace.\n\n{feedback}")
    return "\n\n".join(parts)


def debugger_prompt(ticket: Ticket, stage: str, evidence: str, manifest: Manifest | None,
                    decomposition: Decomposition | None) -> str:
    parts = [ticket.text(), f"## Failing stage: {stage}", f"## Evidence\n{evidence}"]
    if manifest is not None:
        parts.append("## Manifest\n" + manifest.model_dump_json(indent=1))
    if decomposition is not None:
        parts.append("## Decomposition\n" + json.dumps(decomposition.as_dict()))
    return "\n\n".join(parts)


def reviewer_prompt(ticket: Ticket, manifest: Manifest, diff: str, conventions: str | None
                    ) -> str:
    parts = [ticket.text(), "## Plan\n" + manifest.model_dump_json(indent=1)]
    if conventions:
        parts.append(f"## Project conventions\n{conventions}")
    parts.append(f"## Diff\n```diff\n{diff[:60_000]}\n```")
    return "\n\n".join(parts)
