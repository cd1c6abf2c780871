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
import re
from dataclasses import dataclass

from harness.pipeline.manifest import Decomposition, Manifest, SubTicket
from harness.pipeline.ticket import Ticket

PLANNER = """You are the Planner of a coding pipeline working on a repository at /workspace.
Workflow: (1) read the ticket and the repository map; (2) localize: search and read the code the
ticket is about until you know which files and symbols must change; (3) call `submit_manifest`
with a plan: a summary and sub-tickets small enough for one focused change each. Every
sub-ticket lists the files and symbols it touches and its operations (create, modify, delete,
rename) with paths relative to the repository root, and the sub-tickets it depends on. When the
ticket names no tests and some already fail at the base commit, list in `acceptance_tests` those
this ticket must make pass (possibly none).
Tools: read-only. `read_file` shows numbered windows of 400 lines (ask for ranges);
`search` and `list_files` say when they were cut; narrow them rather than repeat them.
Stop when the plan is submitted. Do not write code; a refused plan comes back with its problems."""

CODER = """You are the Coder of a coding pipeline working on a repository at /workspace.
Workflow: (1) localize: read the sub-ticket, then search and read the code it names;
(2) reproduce: when a test covers the behaviour, run it first (`run_tests`, or `run_command`);
(3) edit: minimal changes in the style of the code around them, never weakening or deleting a
test to make it pass; (4) verify: `run_tests` gives the verdict the harness will apply;
(5) finish: call `finish` with a short summary of what you changed and why.
Tools: `read_file` shows numbered windows of 400 lines; `edit_file` matches `old_string` exactly,
then ignoring line endings and indentation, and shows the lines it changed; an edit that breaks
a TS/JS/JSON file's syntax is refused and the file kept; `undo_edit` takes your last change back.
Commands have no network and stop at the attempt's deadline.
Stop when the change is complete and verified; the harness then runs the tests itself."""

DEBUGGER = """You are the Debugger of a coding pipeline working on a repository at /workspace.
A stage failed; you get its runtime evidence and the current diff.
Workflow: (1) read the evidence; (2) reproduce the failure with `run_command`; (3) find the root
cause with the read-only tools; (4) call `submit_diagnosis` naming the stage that owns the fix
(`planner` when the plan itself is wrong, `coder` when the implementation is), the root cause,
a brief telling that stage exactly what to do differently and, for the coder, the sub-tickets
to redo.
You may not change files: any change you make is undone and your diagnosis discarded.
Stop when the diagnosis is submitted."""

REVIEWER = """You are the Reviewer of a coding pipeline. You get a ticket, its plan and the final
diff (the tests already pass).
Workflow: (1) read the diff and what the tests showed; (2) read the changed files around the
changes when the diff is not enough; (3) check correctness, scope (nothing the ticket did not ask
for) and the project's conventions; on a re-review, check each of your earlier findings.
Call `submit_review` with `approve`, or with `request_changes` and concrete findings (path,
line, message) the Coder can act on; findings that are matters of taste are not findings.
Tools: read-only; `read_file` shows numbered windows of 400 lines.
Stop when the review is submitted."""


def for_cli(system: str) -> str:
    """A stage's system prompt for a CLI vendor, whose CLI brings its own tools: the paragraph
    about harness's tools (from ``Tools:`` to the next ``Stop``/``Commands`` line) left out, and
    every other mention of a harness tool said in the CLI's terms (``cli_words``)."""
    out, skipping = [], False
    for line in system.splitlines():
        if line.startswith("Tools:"):
            skipping = True
            out.append("Tools: your CLI's own; commands run in the container, without network.")
        elif skipping and line.startswith(("Stop", "Commands", "You may not")):
            skipping = False
        if not skipping and not line.startswith("Tools:"):
            out.append(line)
    return cli_words("\n".join(out))


# A CLI stage has its own tools and ends with a JSON answer (or, the Coder, a summary): a
# prompt naming harness's tools would send it looking for tools it does not have.
_CLI_WORDS = (
    ("(`run_tests`, or `run_command`)", "(with your CLI's shell)"),
    ("`run_tests` gives the verdict the harness will apply", "run the tests the way the "
     "harness will (below)"),
    ("Call `run_tests` to get this verdict yourself before you finish.",
     "Run those tests yourself before you finish."),
    ("with `run_command`", "with a command"),
    ("call `submit_manifest` with a plan", "answer with a plan"),
    ("call `submit_diagnosis` naming", "answer with a diagnosis naming"),
    ("Call `submit_review` with", "Answer with"),
    ("call `finish` with a short summary", "end with a short summary"),
)


def cli_words(text: str) -> str:
    for harness_words, cli in _CLI_WORDS:  # a phrase may be wrapped anywhere in a prompt
        pattern = r"\s+".join(re.escape(word) for word in harness_words.split())
        text = re.sub(pattern, lambda _, cli=cli: cli, text)  # type: ignore[misc]
    return text


def for_surface(surface: str, system: str, prompt: Prompt) -> tuple[str, Prompt]:
    """The system prompt and first turn as a stage on ``surface`` (sdk or cli) gets them."""
    if surface != "cli":
        return system, prompt
    return for_cli(system), Prompt(tuple(cli_words(c) for c in prompt.context),
                                   tuple(cli_words(t) for t in prompt.task))


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
