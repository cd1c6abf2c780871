"""Ticket lists for ``harness batch``: a directory of ticket files, a YAML list, or JSONL — each
row a ticket or a SWE-bench-style instance (``instance_id``, ``problem_statement``,
``base_commit``, optional ``repo``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.errors import TicketError
from harness.pipeline.ticket import Ticket, load_ticket

TICKET_SUFFIXES = {".yaml", ".yml", ".md", ".markdown"}


@dataclass(frozen=True)
class BatchItem:
    ticket: Ticket
    repo: Path | None = None  # a SWE-bench row may name its own repository


def load_ticket_list(source: Path) -> list[BatchItem]:
    """Every ticket of ``source``; raise ``TicketError`` naming the row and the problem."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in TICKET_SUFFIXES)
        if not files:
            raise TicketError(f"{source}: no ticket files (.yaml, .yml, .md) in the directory")
        return _unique(source, [BatchItem(load_ticket(p)) for p in files])
    if not source.is_file():
        raise TicketError(f"{source}: no such file or directory — pass a directory of tickets, "
                          "a YAML list or a JSONL file")
    rows = _jsonl(source) if source.suffix.lower() == ".jsonl" else _yaml_list(source)
    return _unique(source, [_item(source, n, row) for n, row in rows])


def _jsonl(path: Path) -> list[tuple[int, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise TicketError(f"{path}:{n}: not JSON ({exc.msg})") from None
    return rows


def _yaml_list(path: Path) -> list[tuple[int, Any]]:
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise TicketError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, list):
        raise TicketError(f"{path}: a ticket list is a YAML list of tickets")
    return [(n, row) for n, row in enumerate(data, 1)]


def _item(path: Path, n: int, row: Any) -> BatchItem:
    if not isinstance(row, dict):
        raise TicketError(f"{path}: row {n} is not a mapping")
    repo = Path(str(row["repo"])) if row.get("repo") else None
    if "instance_id" in row:
        statement = str(row.get("problem_statement") or "")
        data: dict[str, Any] = {
            "id": row["instance_id"], "title": statement.strip().splitlines()[0][:200]
            if statement.strip() else str(row["instance_id"]),
            "body": statement, "base": row.get("base_commit"),
            "fail_to_pass": _names(row.get("FAIL_TO_PASS"))}
    else:
        data = {k: v for k, v in row.items() if k != "repo"}
    try:
        return BatchItem(Ticket.model_validate(data), repo)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TicketError(f"{path}: row {n}: {problems}") from None


def _names(value: Any) -> list[str]:
    """SWE-bench's FAIL_TO_PASS: a list, or a list encoded as a JSON string."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value] if value.strip() else []
    return [str(v) for v in value] if isinstance(value, list) else []


def _unique(source: Path, items: list[BatchItem]) -> list[BatchItem]:
    seen: set[str] = set()
    for item in items:
        if item.ticket.id in seen:
            raise TicketError(f"{source}: ticket id `{item.ticket.id}` appears twice — ids "
                              "name the results, so they must be unique")
        seen.add(item.ticket.id)
    return items
