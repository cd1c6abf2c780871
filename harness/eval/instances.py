"""Evaluation instances: SWE-bench rows (JSONL: ``instance_id``, ``repo``, ``base_commit``,
``problem_statement``, ``test_patch``, ``patch``, ``FAIL_TO_PASS``, ``PASS_TO_PASS``; the two
lists may be JSON strings, as SWE-bench ships them; other fields are kept) or harness tickets
(a directory of ticket files, a YAML list, JSONL rows without ``instance_id``).

The agent sees only ``ticket()``: the problem statement. ``test_patch`` and its test names stay
hidden until the result is graded (harness.eval.grade)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import InstanceError, TicketError
from harness.pipeline.ticket import Ticket
from harness.runs.tickets import BatchItem, load_ticket_list
from harness.sandbox.hostgit import GIT_TIMEOUT, hardened_argv, minimal_env

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
# owner/name as a forge spells it: no "..", no third part, so DIR/owner+name stays under DIR
_OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]*[A-Za-z0-9_-]")
TITLE_MAX = 200


class Instance(BaseModel):
    """One instance. ``PASS_TO_PASS`` None (a harness ticket): no test may fail that did not
    fail at the base commit (the run's baseline) instead of a list."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    instance_id: str = Field(pattern=_ID)
    repo: str = ""
    base_commit: str | None = None
    problem_statement: str = ""
    test_patch: str = ""
    patch: str = ""
    FAIL_TO_PASS: tuple[str, ...] = ()
    PASS_TO_PASS: tuple[str, ...] | None = ()
    test_command: str | None = None  # overrides sandbox.test_command, for the run and grading
    node: str | None = Field(None, pattern=r"^\S+$")  # overrides sandbox.node, for grading
    # The ticket as its file gave it (harness tickets only: their fail_to_pass is the user's).
    given: Ticket | None = None
    where: str = ""  # file:line, for messages

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        """SWE-bench encodes the lists as JSON strings."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("a list of test names, or one encoded as a JSON string "
                                 f"(got {value[:60]!r})") from None
        return value

    def ticket(self) -> Ticket:
        """What the agent is given: the problem statement, never the hidden tests."""
        if self.given is not None:
            return self.given
        statement = self.problem_statement.strip()
        return Ticket(id=self.instance_id,
                      title=statement.splitlines()[0][:TITLE_MAX] if statement
                      else self.instance_id,
                      body=self.problem_statement, base=self.base_commit,
                      test_command=self.test_command)

    def extras(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def load_instances(source: Path) -> list[Instance]:
    """Every instance of ``source``; ``InstanceError`` names the file and line of a bad one."""
    if source.is_file() and source.suffix.lower() == ".jsonl":
        rows = _jsonl(source)
        if any("instance_id" in row for _, row in rows):
            return _unique(source, [_instance(source, n, row) for n, row in rows])
    try:
        items = load_ticket_list(source)
    except InstanceError:
        raise
    except TicketError as exc:
        raise InstanceError(str(exc)) from None
    return [_from_ticket(source, item) for item in items]


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InstanceError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InstanceError(f"{path}:{n}: an instance is a JSON object")
        rows.append((n, row))
    return rows


def _instance(path: Path, n: int, row: dict[str, Any]) -> Instance:
    if "instance_id" not in row:
        raise InstanceError(f"{path}:{n}: no `instance_id` (the other rows are SWE-bench "
                            "instances; a file holds one kind)")
    try:
        return Instance.model_validate({**row, "where": f"{path}:{n}"})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InstanceError(f"{path}:{n}: {problems}") from None


def _from_ticket(source: Path, item: BatchItem) -> Instance:
    t = item.ticket
    return Instance(instance_id=t.id, repo=str(item.repo or ""), base_commit=t.base,
                    problem_statement=t.body, FAIL_TO_PASS=tuple(t.fail_to_pass),
                    PASS_TO_PASS=None, test_command=t.test_command, given=t,
                    where=f"{source} ({t.id})")


def _unique(source: Path, found: list[Instance]) -> list[Instance]:
    seen: dict[str, str] = {}
    for inst in found:
        if inst.instance_id in seen:
            raise InstanceError(f"{inst.where}: instance `{inst.instance_id}` also at "
                                f"{seen[inst.instance_id]} — ids name the results, so they "
                                "must be unique")
        seen[inst.instance_id] = inst.where
    return found


class RepoSource:
    """Where each instance's repository is: ``repo`` (one local clone, for every instance that
    names no other) and/or ``repos`` (a directory of ``owner+name`` clones or mirrors — a mirror
    being a bare ``owner+name/repo``). A bare mirror is cloned once, shared (its objects read in
    place, nothing written to it), into ``scratch``."""

    def __init__(self, *, repos: Path | None, repo: Path | None, scratch: Path) -> None:
        self.repos, self.repo, self.scratch = repos, repo, scratch

    def path(self, inst: Instance) -> Path:
        if inst.given is not None and inst.repo:  # a ticket list's row names its repository
            return Path(inst.repo)
        if self.repos is not None and _OWNER_NAME.fullmatch(inst.repo):
            found = self._mapped(inst)
            if found is not None:
                return found
        if self.repo is not None:
            return self.repo
        raise InstanceError(f"{inst.where}: no repository for `{inst.repo or inst.instance_id}`"
                            + (f" under {self.repos} (looked for "
                               f"{self.repos / inst.repo.replace('/', '+')})" if self.repos
                               else "") + " — pass --repos DIR (DIR/owner+name) or --repo PATH")

    def _mapped(self, inst: Instance) -> Path | None:
        assert self.repos is not None
        top = self.repos / inst.repo.replace("/", "+")
        for candidate in (top, top / "repo"):
            if (candidate / ".git").exists():
                return candidate
            if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
                return self._clone(candidate, top.name)
        return None

    def _clone(self, bare: Path, name: str) -> Path:
        """A private clone (no checkout) that reads ``bare``'s objects through an alternate."""
        dest = self.scratch / name
        if not (dest / ".git").exists():
            self.scratch.mkdir(parents=True, exist_ok=True)
            tmp = self.scratch / f".{name}.new"
            subprocess.run(["rm", "-rf", "--", str(tmp)], check=True)
            argv = hardened_argv(("clone", "-q", "--shared", "--no-checkout",
                                  str(bare.resolve()), str(tmp)))
            # a local path: no transport runs a program; every other protocol stays off
            argv[1:1] = ["-c", "protocol.file.allow=always"]
            done = subprocess.run(argv, env=minimal_env(self.scratch), capture_output=True,
                                  text=True, check=False, timeout=GIT_TIMEOUT)
            if done.returncode != 0:
                raise InstanceError(f"{bare}: cannot clone the mirror: {done.stderr.strip()}")
            tmp.rename(dest)
        return dest
