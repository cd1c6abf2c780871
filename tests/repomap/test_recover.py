"""Valid TypeScript the grammar rejects still yields its symbols, and rejected files are counted."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from harness.repomap import FactsCache, RepoMap, build_index
from harness.repomap.extract import extract

MakeRepo = Callable[[Mapping[str, str | bytes]], Path]

# Valid TypeScript 5 that tree-sitter-typescript 0.23 rejects: `export type * from`, and call
# signatures ending in an intersection with no semicolon before the next generic one (read as
# type arguments), after which its recovery swallows the rest of the file into the interface.
REJECTED = """\
import { a } from "./a"
export type * from "./types"
export interface Maker<A extends Fn = typeof base, B = any> {
  <In extends List<B>, Out>(
    ...args: [...inputs: In, last: Join<In, Out>]
  ): Made<In, Out, A> &
    Tag

  <
    In extends List<B>,
    Out,
    Over extends Fn = A
  >(
    ...args: [...inputs: In, last: Join<In, Out>, options: Opts<A, Over>]
  ): Made<In, Out, Over> &
    Tag

  typed: <Next extends B>() => Maker<A, Next>
}
export function keep(x: number): number {
  return x
}
export const other = 1
class Local {
  run(): void {}
}
"""


def test_a_file_the_grammar_rejects_keeps_its_symbols() -> None:
    facts = extract(REJECTED.encode(), "typescript")
    assert facts.syntax_errors
    by_name = {s.name: s for s in facts.symbols}
    assert set(by_name) >= {"Maker", "keep", "other", "Local"}
    assert by_name["keep"].line == 20
    assert by_name["keep"].signature == "export function keep(x: number): number"
    assert by_name["Local"].line == 24
    assert {i.spec for i in facts.imports} == {"./a", "./types"}


def test_a_long_barrel_with_export_type_star_keeps_its_declarations() -> None:
    lines = [f'export * from "./m{i}"' for i in range(90)]
    lines[40] = 'export type * from "./types"'
    text = "\n".join([*lines, "export function version(): string {\n  return ''\n}",
                      *[f'export {{ x{i} }} from "./x{i}"' for i in range(88)]]) + "\n"
    facts = extract(text.encode(), "typescript")
    assert [s.name for s in facts.symbols] == ["version"]
    assert len(facts.imports) == 178


def test_parse_errors_are_counted_and_said(make_repo: MakeRepo) -> None:
    repo = make_repo({"src/sel.ts": REJECTED, "src/ok.ts": "export const ok = 1\n"})
    index = build_index(repo, "HEAD", FactsCache(None))
    assert index.stats.parse_errors == 1
    text = RepoMap(index).render("Maker keep", 2000)
    assert "1 file has syntax the parser rejects" in text.splitlines()[1]
    assert "keep" in text
