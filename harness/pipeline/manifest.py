"""What stages hand each other: the Planner's manifest, the Debugger's diagnosis, the Reviewer's
review — each a pydantic model whose JSON Schema is the terminal tool's input schema (or a CLI's
``--json-schema``) — and the structural decomposition of a manifest."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operation(_Strict):
    op: Literal["create", "modify", "delete", "rename"]
    path: str
    symbol: str | None = None
    detail: str | None = None


class SubTicket(_Strict):
    id: str = Field(min_length=1)
    title: str
    description: str = ""
    files: list[str] = Field(default_factory=list)
    symbols: list[str] = Field(default_factory=list)
    operations: list[Operation] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)


class Manifest(_Strict):
    summary: str
    sub_tickets: list[SubTicket] = Field(min_length=1)
    acceptance_tests: list[str] = Field(
        default_factory=list, description="Of the tests listed as already failing at the base "
        "commit, those this ticket must make pass (empty when it is about none of them).")


class Diagnosis(_Strict):
    owner: str = Field(description="The stage that owns the fix: one the debugger can route to.")
    root_cause: str
    brief: str = Field(description="What the owner must do differently.")
    sub_tickets: list[str] = Field(
        default_factory=list, description="When the owner is the coder: the ids of the "
        "sub-tickets to do again (empty: only those that have not passed yet).")


class Finding(_Strict):
    path: str
    line: int | None = None
    message: str


class Review(_Strict):
    verdict: Literal["approve", "request_changes"]
    findings: list[Finding] = Field(default_factory=list)


@dataclass(frozen=True)
class Decomposition:
    """The manifest's structure, recorded before any Coder call."""

    sub_tickets: int
    chain_depth: int  # sub-tickets on the longest dependency chain
    operations: int
    order: tuple[str, ...]  # topological: every sub-ticket after what it depends on

    def as_dict(self) -> dict[str, Any]:
        return {"sub_tickets": self.sub_tickets, "chain_depth": self.chain_depth,
                "operations": self.operations, "order": list(self.order)}


def manifest_problems(manifest: Manifest, exists: Any = None) -> list[str]:
    """Everything wrong with a manifest, for the re-plan brief. ``exists(path)`` tells whether
    a path is in the repository (a modify/delete/rename of a missing file is a problem)."""
    problems: list[str] = []
    ids = [t.id for t in manifest.sub_tickets]
    problems += [f"sub-ticket id `{i}` is used more than once"
                 for i in sorted({i for i in ids if ids.count(i) > 1})]
    for ticket in manifest.sub_tickets:
        problems += [f"{ticket.id}: depends on unknown sub-ticket `{d}`"
                     for d in ticket.depends_on if d not in ids]
        paths = [*ticket.files, *(o.path for o in ticket.operations)]
        problems += [f"{ticket.id}: path `{p}` is outside the repository"
                     for p in paths if not _inside(p)]
        if exists is not None:
            problems += [f"{ticket.id}: cannot {o.op} `{o.path}`: no such file"
                         for o in ticket.operations
                         if o.op in {"modify", "delete", "rename"} and _inside(o.path)
                         and not exists(o.path)]
    if not problems:
        cycle = _cycle(manifest)
        if cycle:
            problems.append("dependency cycle: " + " -> ".join(cycle))
    return problems


def decompose(manifest: Manifest) -> Decomposition:
    """Order and measure a manifest that has no problems."""
    by_id = {t.id: t for t in manifest.sub_tickets}
    order: list[str] = []
    depth: dict[str, int] = {}

    def visit(tid: str) -> int:
        if tid not in depth:
            deps = by_id[tid].depends_on
            depth[tid] = 1 + max((visit(d) for d in deps), default=0)
            order.append(tid)
        return depth[tid]

    for ticket in manifest.sub_tickets:
        visit(ticket.id)
    return Decomposition(len(by_id), max(depth.values()),
                         sum(len(t.operations) for t in manifest.sub_tickets), tuple(order))


def _inside(path: str) -> bool:
    norm = posixpath.normpath(path.replace("\\", "/"))
    return bool(path) and not posixpath.isabs(norm) and norm != ".." and not norm.startswith("../")


def _cycle(manifest: Manifest) -> list[str]:
    deps = {t.id: t.depends_on for t in manifest.sub_tickets}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def walk(tid: str) -> list[str]:
        state[tid] = 1
        stack.append(tid)
        for dep in deps[tid]:
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if state.get(dep) is None:
                found = walk(dep)
                if found:
                    return found
        stack.pop()
        state[tid] = 2
        return []

    for tid in deps:
        if tid not in state:
            found = walk(tid)
            if found:
                return found
    return []
