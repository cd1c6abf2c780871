"""Long signatures are cut so a 2,000-token map names at least ten files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from harness.repomap import RepoMap
from harness.repomap.shorten import shorten

MakeRepo = Callable[[Mapping[str, str | bytes]], Path]


def test_long_type_arguments_and_parameter_lists_are_elided() -> None:
    assert shorten("export function f(m: Map<string, Array<Foo<Bar>>>): Map<string, "
                   "Array<Foo<Bar>>>") == "export function f(m: Map<…>): Map<…>"
    assert shorten("setOptions(options: Partial<DataSourceOptions>): this") == (
        "setOptions(options: Partial<DataSourceOptions>): this")
    assert shorten("select(selection?: string | string[] | ((qb: Builder<any>) => Builder<any>),"
                   " alias?: string): Builder<Entity>") == (
        "select(selection?, alias?): Builder<Entity>")
    assert shorten("const a = (x: number) => x < 3") == "const a = (x: number) => x < 3"
    assert len(shorten("type T = " + "A | " * 60 + "B")) == 100


def test_a_map_of_long_generic_signatures_names_ten_files(make_repo: MakeRepo) -> None:
    # punctuation costs a token a character: before shortening such a map named 4 files
    generic = "Map<K, [A<B>, C<D>, E<F>, G<H>, I<J>, K<L>, M<N>, O<P>, Q<R>, S<T>, U<V>, W<X>]>"
    methods = "".join(f"  handle{i}(input: {generic}, other: {generic}): {generic} {{}}\n"
                      for i in range(12))
    files = {f"src/widget{n}.ts": f"export class WidgetStore{n} {{\n{methods}}}\n"
             for n in range(14)}
    text = RepoMap.build(make_repo(files), "HEAD", None).render("widget store handle", 2000)
    named = [line for line in text.splitlines()[1:] if line.startswith("src/")]
    assert len(named) >= 10
