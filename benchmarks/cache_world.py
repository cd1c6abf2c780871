"""The world ``benchmarks/cache.py`` runs a ticket in: an in-memory TypeScript workspace behind
the ``Sandbox`` interface (sources of 1–8k tokens, a test suite that fails until the fix is in),
and the scripted model turns of every stage: a 4-turn Planner, a 30-turn Coder whose tests fail,
its escalated retry (also failing), a Debugger round that routes the fix back to the Coder, the
Coder's fresh round that passes, and a Reviewer on Gemini. Everything is generated from fixed
seeds: two runs send the same bytes."""

from __future__ import annotations

import difflib
import itertools
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from harness.errors import SandboxError
from harness.fakes.anthropic_server import tool_use
from harness.fakes.loopback import Reply
from harness.sandbox.base import ExecResult, Sandbox, SearchHit
from harness.vendors.types import EgressLink, EgressRoute

TEST_COMMAND = "npm test"
TARGET = "packages/text/src/slug.ts"
FIX = "export const trimDashes = (s: string): string => s.replace(/^-+|-+$/g, \"\");\n"
WORDS = ("account", "invoice", "currency", "refund", "ledger", "payment", "customer", "order",
         "amount", "balance", "report", "session", "token", "locale", "format", "parse")
# path -> approximate size in tokens (about 4 characters each)
SIZES = {TARGET: 1500, "packages/text/src/index.ts": 1000, "packages/text/test/slug.test.ts": 2500,
         "packages/billing/src/refund.ts": 8000, "packages/billing/src/invoice.ts": 6000,
         "packages/billing/src/currency.ts": 4000, "packages/api/src/routes.ts": 7000,
         "packages/api/src/handlers.ts": 5000, "packages/core/src/config.ts": 3000,
         "packages/core/src/errors.ts": 2000, "packages/core/src/log.ts": 1500,
         "packages/api/src/urls.ts": 3500}
TICKET = {"id": "PAY-142", "title": "Slugs of refund URLs keep leading and trailing dashes",
          "body": ("`slugify` in packages/text turns ' Refund: 42 ' into '-refund-42-'. Refund "
                   "URLs, invoice anchors and export file names all go through it, and support "
                   "links break when a customer name starts or ends with punctuation.\n\n")
          + "".join(f"- Report {i}: {', '.join(random.Random(i).sample(WORDS, 6))} slug came "
                    "out with dashes at an end; expected none.\n" for i in range(150))}


def source(path: str, tokens: int) -> str:
    """A TypeScript module of about ``tokens`` tokens, with a unique marker per function."""
    rng = random.Random(path)
    lines = [f"// {path}", "import { Money, Locale } from \"@acme/core\";", ""]
    n = 0
    while sum(len(x) + 1 for x in lines) < tokens * 4:
        name = "".join(w.capitalize() for w in rng.sample(WORDS, 2))
        lines += [f"// marker-{n}", f"export function to{name}{n}(input: string, locale: Locale)"
                  ": string {", f"  const parts = input.split({rng.choice(WORDS)!r});",
                  f"  if (parts.length > {rng.randint(2, 9)}) return parts.join(\"-\");",
                  f"  return new Money(parts.length, locale).format({rng.choice(WORDS)!r});",
                  "}", ""]
        n += 1
    return "\n".join(lines)


def test_output(passing: bool) -> tuple[int, str]:
    """What ``npm test`` prints: node's spec reporter, 40 tests, 3 failing until the fix."""
    lines = ["▶ slugify", *(f"  ✔ keeps {w} words ({i * 0.37:.2f}ms)"
                             for i, w in enumerate(WORDS * 2))]
    if not passing:
        for case in ("trims leading dashes", "trims trailing dashes", "trims both ends"):
            lines += [f"  ✖ {case} (0.52ms)", "    AssertionError [ERR_ASSERTION]: Expected values "
                      "to be strictly equal:", "    + actual - expected", "",
                      "    + '-refund-42-'", "    - 'refund-42'", "",
                      "        at TestContext.<anonymous> (packages/text/test/slug.test.ts:41:12)",
                      "        at Test.runInAsyncScope (node:async_hooks:211:14)",
                      "        at Test.run (node:internal/test_runner/test:931:25)"]
    failed = 0 if passing else 3
    lines += [f"ℹ tests {32 + failed}", "ℹ pass 32", f"ℹ fail {failed}",
              "ℹ duration_ms 812.4"]
    return (0 if passing else 1), "\n".join(lines) + "\n"


class MemorySandbox(Sandbox):
    """The workspace in a dict; ``npm test`` passes once the fix is in ``TARGET``."""

    def __init__(self) -> None:
        self.base = {p: source(p, n) for p, n in SIZES.items()}
        self.files = dict(self.base)

    def exec(self, cmd: str | Sequence[str], *, timeout: float | None = None,
             env: Mapping[str, str] | None = None, workdir: str = "/workspace") -> ExecResult:
        command = cmd if isinstance(cmd, str) else " ".join(cmd)
        if command.startswith(TEST_COMMAND):
            code, out = test_output("trimDashes" in self.files[TARGET])
            return ExecResult(code, out, "", duration=0.9)
        return ExecResult(0, f"$ {command}\n" + "\n".join(sorted(self.files)), "", duration=0.1)

    def read_file(self, path: str) -> str:
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]

    def write_file(self, path: str, content: str) -> None:
        self.files[path] = content

    def edit_file(self, path: str, old: str, new: str) -> None:
        text = self.read_file(path)
        if text.count(old) != 1:
            raise ValueError(f"{old!r} occurs {text.count(old)} times in {path}")
        self.files[path] = text.replace(old, new)

    def read_bytes(self, path: str) -> bytes:
        return self.read_file(path).encode("utf-8", "surrogateescape")

    def write_bytes(self, path: str, data: bytes) -> None:
        self.files[path] = data.decode("utf-8", "surrogateescape")

    def remove_file(self, path: str) -> None:
        del self.files[path]

    def list_files(self, path: str = ".", *, limit: int = 2000) -> list[str]:
        prefix = "" if path in (".", "") else path.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix))[:limit]

    def search(self, pattern: str, path: str = ".", *, limit: int = 200,
               glob: str | None = None, context: int = 0,
               files_only: bool = False) -> list[SearchHit]:
        regex = re.compile(pattern)
        hits = [SearchHit(p, i, line) for p in self.list_files(path)
                for i, line in enumerate(self.files[p].splitlines(), 1) if regex.search(line)]
        return hits[:limit]

    def exists(self, path: str) -> bool:
        return path in self.files

    def changed_files(self) -> list[str]:
        return sorted(p for p in self.files if self.base.get(p) != self.files[p])

    def diff(self) -> str:
        return "".join("".join(difflib.unified_diff(
            self.base.get(p, "").splitlines(True), self.files[p].splitlines(True),
            f"a/{p}", f"b/{p}")) for p in self.changed_files())

    def reset(self) -> None:
        self.files = dict(self.base)

    def egress(self, route: EgressRoute) -> AbstractContextManager[EgressLink]:
        raise SandboxError("the benchmark's workspace has no way out: it runs SDK stages only")

    def close(self) -> None:
        return


# -- the stages' turns -------------------------------------------------------------------------

PATHS = list(SIZES)
MANIFEST = {"summary": "Trim dashes at both ends in slugify", "sub_tickets": [{
    "id": "S1", "title": "slugify trims leading and trailing dashes", "files": [TARGET],
    "description": "Add trimDashes and apply it last in slugify; cover it in slug.test.ts.",
    "operations": [{"op": "modify", "path": TARGET, "symbol": "slugify"}]}]}


def _read(i: int) -> tuple[str, dict[str, Any]]:
    return "read_file", {"path": PATHS[i % len(PATHS)]}


def _edit(edits: Iterator[int]) -> tuple[str, dict[str, Any]]:
    n = next(edits)  # each marker is edited once, so every edit applies
    return "edit_file", {"path": TARGET, "old_string": f"// marker-{n}\n",
                         "new_string": f"// marker-{n} (reviewed)\n"}


def coder_turns(turns: int, edits: Iterator[int], *,
                fix: bool) -> list[tuple[str, dict[str, Any]]]:
    """Reads of every size, searches, test runs and edits; ``finish`` on the last turn."""
    work: list[tuple[str, dict[str, Any]]] = []
    for t in range(turns - 2):
        kind = t % 6
        work.append(_read(t) if kind in (0, 1, 3) else ("search", {"pattern": "slug|dash"})
                    if kind == 2 else ("run_command", {"command": TEST_COMMAND})
                    if kind == 4 else _edit(edits))
    ending = ("write_file", {"path": TARGET, "content": source(TARGET, 1500) + FIX}) if fix \
        else _edit(edits)
    return [*work, ending, ("finish", {"summary": "Trimmed the dashes in slugify."})]


def explore(turns: int, first: int) -> list[tuple[str, dict[str, Any]]]:
    """A read-only stage finding its way: listings, searches and reads of every size."""
    kinds = [lambda t: ("list_files", {"path": "packages"}),
             lambda t: ("search", {"pattern": "slug|dash"}), _read, _read, _read]
    return [kinds[t % len(kinds)](first + t) for t in range(turns)]


def anthropic_replies() -> list[Reply]:
    """Every Anthropic answer, in the order the pipeline asks: Planner (12 turns), Coder (30
    turns, then an escalated retry of 8), Debugger (12), the Coder's fresh round (6)."""
    planner = [*explore(11, 0), ("submit_manifest", MANIFEST)]
    debugger = [*explore(5, 3), ("run_command", {"command": TEST_COMMAND}), *explore(5, 8),
                ("submit_diagnosis", {"owner": "coder", "root_cause": "slugify never trims the "
                                      "dashes its replace leaves at both ends",
                                      "brief": "Add trimDashes to slug.ts and apply it last."})]
    edits = itertools.count()
    turns = [*planner, *coder_turns(30, edits, fix=False), *coder_turns(8, edits, fix=False),
             *debugger, *coder_turns(6, edits, fix=True)]
    return [tool_use(name, args, call_id=f"toolu_{n:03d}") for n, (name, args) in
            enumerate(turns)]


def gemini_replies() -> list[Reply]:
    """The Reviewer's answers: the changed file, its test, its package's index, who calls it
    (a search, then that file), then an approval."""
    calls = [_read(0), _read(2), _read(1), ("search", {"pattern": "slugify\\("}), _read(11),
             ("submit_review", {"verdict": "approve", "findings": []})]
    return [Reply("function_call", {"calls": [{"name": name, "args": args, "id": f"g{n}"}]})
            for n, (name, args) in enumerate(calls)]
