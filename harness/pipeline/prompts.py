"""What each stage is told, laid out for the prompt cache (docs/caching.md).

A request is one prefix: tools, system prompt, then the conversation. The system prompts below
and the tool list never change within a stage. The first user turn starts with the stable
ticket context (``Prompt.context``: the same on every attempt of a stage, so a retry reads it
from the cache) and ends with what this attempt alone is told (``Prompt.task``: a refused plan,
a brief, failing tests, evidence, a diff). Nothing that changes between attempts (timestamps,
attempt numbers, budgets left, random ids) goes before the end of the context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Prompt:
    """A stage's first user turn: the stable context, then this attempt's own part."""

    context: tuple[str, ...]
    task: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return SEPARATOR.join((*self.context, *self.task))

    @property
    def stable_chars(self) -> int:
        """How much of ``text`` is the context: the same characters whatever the task is."""
        return len(SEPARATOR.join(self.context))


SEPARATOR = "\n\n"


def ticket_context(ticket: Ticket, *sections: str | None) -> tuple[str, ...]:
    """The stable ticket context of a stage, in order: the ticket, then the stage's own sections
    (the plan, a sub-ticket, conventions, a repo map...), each the same on every attempt."""
    return (ticket.text(), *(s for s in sections if s))


def planner_prompt(ticket: Ticket, brief: str | None, repo_map: str = "",
                   failing: str = "") -> Prompt:
    """``failing``: the section listing the tests that fail at the base commit, to choose the
    ticket's acceptance tests from (empty when the ticket names its own)."""
    task = (f"## The previous plan was refused\n{brief}\nSubmit a corrected manifest.",
            ) if brief else ()
    return Prompt(ticket_context(ticket, repo_map and f"## Repository map\n{repo_map}",
                                 failing), task)


def coder_prompt(ticket: Ticket, manifest: Manifest, sub: SubTicket, *, brief: str | None,
                 feedback: str | None, tests_ran: bool = True, work: str | None = None,
                 previous: str | None = None, checks: str = "") -> Prompt:
    """``tests_ran``: the feedback is the tests' (else it says itself what was wrong); ``work``:
    the diff so far (``handover.diff_section``); ``previous``: what the last attempt said."""
    task = []
    if brief:
        task.append(f"## Brief\n{brief}")
    if feedback and not tests_ran:
        task.append(f"## Your previous attempt failed\n{feedback}")
    elif feedback:
        task.append("## Your previous attempt failed\nThe tests failed after your change. "
                    "Fix the cause in the code (not the tests); your earlier edits are still "
                    f"in the workspace.\n\n{feedback}")
    if previous:
        task.append(f"## What your previous attempt said it did\n{previous}")
    if work:
        task.append(work)
    return Prompt(ticket_context(ticket, f"## Plan\n{manifest.summary}",
                                 _sub_ticket(manifest, sub), checks), tuple(task))


def _sub_ticket(manifest: Manifest, sub: SubTicket) -> str:
    """The sub-ticket with what the plan says around it: its symbols, what it depends on, and
    the other sub-tickets (theirs to do, not this one's)."""
    others = [f"- {t.id} — {t.title}" + (" (this one depends on it)" if t.id in sub.depends_on
                                         else "")
              for t in manifest.sub_tickets if t.id != sub.id]
    lines = [f"## Your sub-ticket: {sub.id} — {sub.title}", sub.description,
             f"Files: {', '.join(sub.files) or '(not listed)'}",
             f"Symbols: {', '.join(sub.symbols) or '(not listed)'}",
             "Operations: "
             f"{json.dumps([o.model_dump(exclude_none=True) for o in sub.operations])}"]
    if others:
        lines.append("Other sub-tickets of the plan (not yours to do here):\n" + "\n".join(others))
    return "\n".join(line for line in lines if line)


def debugger_prompt(ticket: Ticket, stage: str, evidence: str, manifest: Manifest | None,
                    decomposition: Decomposition | None) -> Prompt:
    plan = "## Manifest\n" + manifest.model_dump_json(indent=1) if manifest else None
    shape = ("## Decomposition\n" + json.dumps(decomposition.as_dict()) if decomposition
             else None)
    return Prompt(ticket_context(ticket, plan, shape),
                  (f"## Failing stage: {stage}", f"## Evidence\n{evidence}"))


def reviewer_prompt(ticket: Ticket, manifest: Manifest, diff: str, conventions: str | None,
                    *, tests: str = "", earlier: str | None = None) -> Prompt:
    """``diff``: the change (``handover.diff_section``), first in the task; ``tests``: what the
    tests showed; ``earlier``: this run's previous findings, on a re-review."""
    task = [diff, f"## Tests\n{tests}" if tests else ""]
    if earlier:
        task.append("## Your earlier findings\nYou requested these changes before; check "
                    f"whether the diff now addresses each one.\n{earlier}")
    return Prompt(
        ticket_context(ticket, "## Plan\n" + manifest.model_dump_json(indent=1),
                       conventions and f"## Project conventions\n{conventions}"),
        tuple(t for t in task if t))
