"""A ticket: a YAML file, or Markdown whose front matter holds the fields and whose text is the
body."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.errors import TicketError

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


class Ticket(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID, description="Used in run ids and branch names.")
    title: str = Field(min_length=1)
    body: str = ""
    base: str | None = Field(None, description="Base ref; --base overrides it.")
    test_command: str | None = Field(None, description="Overrides sandbox.test_command.")
    fail_to_pass: list[str] = Field(default_factory=list, description="Tests that must pass for "
                                    "the ticket to be resolved, as the runner names them "
                                    "(nested titles joined with ' > '; the end of a longer name "
                                    "matches).")
    conventions: str | None = Field(None, description="Review conventions for this ticket.")

    def text(self) -> str:
        return f"# {self.id}: {self.title}\n\n{self.body}".rstrip() + "\n"


def load_ticket(path: Path) -> Ticket:
    """Read a ticket; raise ``TicketError`` naming the file and the problem."""
    if not path.is_file():
        raise TicketError(f"{path}: no such ticket file — pass a .yaml or .md ticket")
    raw = path.read_text(encoding="utf-8", errors="replace")
    data = _front_matter(path, raw) if path.suffix.lower() in {".md", ".markdown"} else (
        _yaml(path, raw))
    try:
        return Ticket.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'ticket'}: {e['msg']}"
                             for e in exc.errors())
        raise TicketError(f"{path}: {problems} — a ticket needs at least `id` and `title`"
                          ) from None


def _yaml(path: Path, text: str, line_offset: int = 0) -> dict[str, object]:
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1 + line_offset}" if mark is not None else ""
        raise TicketError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
                          ) from None
    if not isinstance(data, dict):
        raise TicketError(f"{path}: a ticket must be a mapping with `id`, `title` and `body`")
    return {str(k): v for k, v in data.items()}


def _front_matter(path: Path, text: str) -> dict[str, object]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise TicketError(f"{path}:1: a Markdown ticket starts with `---` front matter "
                          "holding `id` and `title`")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == "---")
    except StopIteration:
        raise TicketError(f"{path}: the front matter is not closed by a `---` line") from None
    data = _yaml(path, "\n".join(lines[1:end]), line_offset=1)
    body = "\n".join(lines[end + 1:]).strip()
    if body and "body" not in data:
        data["body"] = body
    return data
